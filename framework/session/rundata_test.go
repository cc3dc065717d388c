package session

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
)

// TestOpenNewRunBundled: without inputs a new run trains on the bundled
// sample, written under the run directory; the session owns the plugin and
// can restart it.
func TestOpenNewRunBundled(t *testing.T) {
	dir := t.TempDir()
	var starts []string
	start := func(_ context.Context, name string) (*host.Plugin, error) {
		starts = append(starts, name)
		return startDNA(t), nil
	}
	var out bytes.Buffer
	s, inputs, err := OpenNewRun(context.Background(), start, "dna", nil, nil, dir, train.Defaults(), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(inputs) != 1 || !strings.HasPrefix(inputs[0], filepath.Join(dir, "bundled")) {
		t.Errorf("inputs %v, want the bundled sample under %s", inputs, filepath.Join(dir, "bundled"))
	}
	if !strings.Contains(out.String(), "no --data: training on the bundled dna sample") || s.Manifest.Train.Tokens == 0 {
		t.Errorf("output %q, %d training tokens", out.String(), s.Manifest.Train.Tokens)
	}
	if s.started != s.Plugin || s.Restart == nil {
		t.Error("the session does not own its plugin")
	}
	p, err := s.Restart()
	if err != nil || len(starts) != 2 {
		t.Fatalf("restart: %v, %d starts", err, len(starts))
	}
	p.Close()
}
