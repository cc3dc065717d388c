package compare

import (
	"path/filepath"
	"testing"
)

// TestExampleSpecs keeps the specs in examples/compare valid.
func TestExampleSpecs(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "compare", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example specs (%v)", err)
	}
	for _, p := range paths {
		s, err := ReadSpec(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if _, err := s.Runs("out"); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
