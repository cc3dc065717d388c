package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrepareFilesOrder gives files random processing times: the dataset
// must not depend on which finishes first.
func TestPrepareFilesOrder(t *testing.T) {
	in := t.TempDir()
	for i := range 40 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat(string(rune('a'+i%26)), 1+i)), 0o644)
	}
	run := func(out string, seed uint64) []byte {
		rng := rand.New(rand.NewPCG(seed, 0))
		delays := make([]time.Duration, 40)
		for i := range delays {
			delays[i] = time.Duration(rng.IntN(2000)) * time.Microsecond
		}
		_, err := PrepareFiles(context.Background(), PrepareRequest{Inputs: []string{in}, OutDir: out, ValidFraction: 0.2, Seed: 3}, []string{".txt"},
			func(name string, data []byte) ([]Doc, error) {
				var i int
				fmt.Sscanf(filepath.Base(name), "f%02d.txt", &i)
				time.Sleep(delays[i])
				ids := make(Tokens, len(data))
				for j, b := range data {
					ids[j] = int32(b)
				}
				return []Doc{{Tokens: ids, Units: int64(len(data))}}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(out, "train.tokens"))
		v, _ := os.ReadFile(filepath.Join(out, "valid.tokens"))
		return append(b, v...)
	}
	a := run(filepath.Join(t.TempDir(), "a"), 1)
	b := run(filepath.Join(t.TempDir(), "b"), 2)
	if !bytes.Equal(a, b) {
		t.Error("datasets differ with different processing orders")
	}
}

func TestPrepareFilesErrors(t *testing.T) {
	in := t.TempDir()
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(in, "b.txt"), []byte("b"), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	_, err := PrepareFiles(context.Background(), PrepareRequest{Inputs: []string{in}, OutDir: out, ValidFraction: 0.5}, nil,
		func(name string, data []byte) ([]Doc, error) {
			if strings.HasSuffix(name, "b.txt") {
				panic("decoder bug")
			}
			return nil, errors.New("not reached for b")
		})
	if err == nil || !strings.Contains(err.Error(), "a.txt: not reached for b") {
		t.Errorf("first file's error wins: %v", err)
	}
	_, err = PrepareFiles(context.Background(), PrepareRequest{Inputs: []string{filepath.Join(in, "b.txt")}, OutDir: out, ValidFraction: 0.5}, nil,
		func(string, []byte) ([]Doc, error) { panic("decoder bug") })
	if err == nil || !strings.Contains(err.Error(), "b.txt: panicked: decoder bug") {
		t.Errorf("panic: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("failed PrepareFiles left %s", out)
	}
}
