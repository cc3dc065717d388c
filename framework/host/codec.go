package host

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/sdk"
)

// EncodeFile encodes data, the contents of the file in, with the plugin and
// writes the tokens to out in format, atomically. It returns the tokens'
// count; an error names the file.
func (p *Plugin) EncodeFile(ctx context.Context, in string, data []byte, out string, format sdk.TokenFormat, opts map[string]string) (int, error) {
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: data, Name: filepath.Base(in), Options: opts})
	if err != nil {
		return 0, nameFile(in, err)
	}
	return len(ids), atomicfile.Write(out, 0o644, func(w io.Writer) error { return sdk.WriteTokens(w, ids, format) })
}

// DecodeFile decodes ids, read from the file in, with the plugin and writes
// the result to out, atomically. It returns the result's size; an error
// names the file.
func (p *Plugin) DecodeFile(ctx context.Context, in string, ids sdk.Tokens, out string, opts map[string]string) (int, error) {
	b, err := p.Decode(ctx, sdk.DecodeRequest{Tokens: ids, Options: opts})
	if err != nil {
		return 0, nameFile(in, err)
	}
	return len(b), atomicfile.WriteFile(out, b, 0o644)
}

// nameFile makes sure an error names the input file, without naming it
// twice when the plugin already did.
func nameFile(name string, err error) error {
	if strings.Contains(err.Error(), filepath.Base(name)) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
