package main

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNoKernels keeps the CLI to flags, wiring and output: the
// kernels, the GPU runtime and the GPU model are reached through
// framework/train (a Placement, a run's Config) and framework/bench,
// never imported here.
func TestImportsNoKernels(t *testing.T) {
	banned := []string{
		"github.com/mambakit/mambakit/framework/kernels",
		"github.com/mambakit/mambakit/framework/cuda",
		"github.com/mambakit/mambakit/framework/cudakernels",
		"github.com/mambakit/mambakit/framework/cudamodel",
	}
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, b := range banned {
				if path == b || strings.HasPrefix(path, b+"/") {
					t.Errorf("%s imports %s: pass the setting through train.Placement, the run's train.Config or framework/bench", e.Name(), path)
				}
			}
		}
	}
}
