package host

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/sdk"
)

// cacheFile, in a dataset directory, holds the key of the Prepare request
// that produced it. The dataset writer replaces the whole directory, so a
// key never outlives its dataset.
const cacheFile = ".mambakit-prepare-key"

// Prepare runs the plugin's Prepare unless req.OutDir already holds the
// dataset for the same plugin name and version, input contents, options,
// seed and validation fraction; cached reports a reuse. The dataset is
// checked (sdk.ReadDataset) before it is returned.
func (p *Plugin) Prepare(ctx context.Context, req sdk.PrepareRequest) (ds sdk.Dataset, cached bool, err error) {
	out, err := filepath.Abs(req.OutDir)
	if err != nil {
		return sdk.Dataset{}, false, err
	}
	req.OutDir = out
	key, err := p.cacheKey(ctx, req)
	if err != nil {
		return sdk.Dataset{}, false, err
	}
	if old, err := os.ReadFile(filepath.Join(out, cacheFile)); err == nil && string(old) == key {
		if mf, err := sdk.ReadDataset(out); err == nil {
			return p.effective(mf.Dataset(out)), true, nil
		}
	}
	ds, err = p.Plugin.Prepare(ctx, req)
	if err != nil {
		// A plugin killed half way leaves its temporary directory; the
		// dataset at OutDir is untouched either way.
		sdk.RemovePartial(out)
		return sdk.Dataset{}, false, p.nameError(err)
	}
	mf, err := sdk.ReadDataset(out)
	if err != nil {
		return sdk.Dataset{}, false, fmt.Errorf("plugin %q wrote a bad dataset: %w", p.Entry.Name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(out, cacheFile), []byte(key), 0o644); err != nil {
		return sdk.Dataset{}, false, err
	}
	return p.effective(mf.Dataset(out)), false, nil
}

// nameError makes sure an error from the plugin names it once.
func (p *Plugin) nameError(err error) error {
	var ce *sdk.CrashError
	if errors.As(err, &ce) || strings.HasPrefix(err.Error(), p.Entry.Name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", p.Entry.Name, err)
}

// effective sets the vocabulary size the model needs: the larger of the
// dataset's (ids below it occur) and the plugin's (ids below it can occur
// when encoding later; a dataset need not use every id).
func (p *Plugin) effective(ds sdk.Dataset) sdk.Dataset {
	ds.VocabSize = max(ds.VocabSize, p.Info.VocabSize)
	return ds
}

// cacheKey hashes everything a deterministic Prepare depends on. Inputs
// are hashed by content, in the order the SDK reads them (sdk.InputFiles
// without a suffix filter: a superset, so any change the plugin could see
// changes the key).
func (p *Plugin) cacheKey(ctx context.Context, req sdk.PrepareRequest) (string, error) {
	h := sha256.New()
	field := func(s string) {
		binary.Write(h, binary.LittleEndian, uint64(len(s)))
		io.WriteString(h, s)
	}
	field("mambakit-prepare-key/v1")
	field(p.Info.Name)
	field(p.Info.Version)
	field(fmt.Sprint(p.Info.ProtocolVersion))
	field(fmt.Sprint(req.Seed))
	field(fmt.Sprint(math.Float64bits(req.ValidFraction)))
	for _, k := range slices.Sorted(mapKeys(req.Options)) {
		field(k)
		field(req.Options[k])
		// An option that names a file (a tokenizer.json) or a directory of
		// files (a dataset holding one) counts by content, so editing that
		// file invalidates the cache.
		if err := hashOptionPath(ctx, h, req.Options[k]); err != nil {
			return "", err
		}
	}
	files, err := sdk.InputFiles(req.Inputs, nil)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		field(f)
		if err := hashFile(ctx, h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashOptionPath hashes the file an option value names, or the regular
// files directly inside the directory it names; other values add nothing.
func hashOptionPath(ctx context.Context, h hash.Hash, v string) error {
	st, err := os.Stat(v)
	if v == "" || err != nil {
		return nil
	}
	if st.Mode().IsRegular() {
		return hashFile(ctx, h, v)
	}
	if !st.IsDir() {
		return nil
	}
	entries, err := os.ReadDir(v)
	if err != nil {
		return nil
	}
	for _, e := range entries { // ReadDir sorts by name
		if e.Type().IsRegular() {
			if err := hashFile(ctx, h, filepath.Join(v, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// hashFile hashes a regular file (sdk.OpenInput: a named pipe would
// block), stopping when ctx ends: a large corpus takes a while.
func hashFile(ctx context.Context, h hash.Hash, name string) error {
	f, err := sdk.OpenInput(name)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	binary.Write(h, binary.LittleEndian, uint64(n))
	return nil
}

// ctxReader is a Reader that fails once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
