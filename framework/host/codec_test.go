package host

import (
	"errors"
	"testing"
)

func TestNameFile(t *testing.T) {
	for name, tc := range map[string]struct{ err, want string }{
		"unnamed":       {"bad byte at 3", "data/x.fa: bad byte at 3"},
		"already named": {"x.fa: bad byte at 3", "x.fa: bad byte at 3"},
	} {
		if got := nameFile("data/x.fa", errors.New(tc.err)).Error(); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
