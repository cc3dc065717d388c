package host

import (
	"errors"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

func TestDescriptionRow(t *testing.T) {
	e := Entry{Name: "dna", Path: "/bin/mambakit-plugin-dna"}
	for name, tc := range map[string]struct {
		d    Description
		want string
	}{
		"started":   {Description{Entry: e, Info: sdk.Info{Name: "dna", Version: "1.0", ProtocolVersion: 1, Kind: "sequence", VocabSize: 12, Unit: "base"}}, "dna 1.0 v1 sequence 12 base /bin/mambakit-plugin-dna"},
		"built-in":  {Description{Entry: Entry{Name: "text", Builtin: true}, Info: sdk.Info{Name: "text", Version: "2", ProtocolVersion: 1, Kind: "text", VocabSize: 259, Unit: "byte"}}, "text 2 v1 text 259 byte built-in"},
		"failed":    {Description{Entry: e, Err: errors.New("crashed")}, "dna - - - - - /bin/mambakit-plugin-dna"},
		"untrusted": {Description{Entry: e, Err: errors.New("x"), Untrusted: "not pinned"}, "dna - - - - - /bin/mambakit-plugin-dna (not run: not pinned)"},
	} {
		if got := strings.Join(tc.d.Row(), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
		if len(tc.d.Row()) != len(ListColumns) {
			t.Errorf("%s: %d columns, want %d", name, len(tc.d.Row()), len(ListColumns))
		}
	}
}

func TestFormatSpecial(t *testing.T) {
	if got := formatSpecial(map[string]int32{"eos": 2, "pad": 0, "bos": 1, "unk": 1}); got != "pad=0 bos=1 unk=1 eos=2" {
		t.Errorf("%q", got)
	}
	if got := formatSpecial(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
}
