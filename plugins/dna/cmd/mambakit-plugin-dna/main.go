// Command mambakit-plugin-dna is the DNA modality as a standalone plugin
// binary (the mambakit host also runs the same code by re-executing itself).
//
//	go build -o bin/ ./plugins/dna/cmd/mambakit-plugin-dna
//
// See docs/plugins-dna.md for its options.
package main

import (
	"github.com/mambakit/mambakit/plugins/dna"
	"github.com/mambakit/mambakit/sdk"
)

func main() { sdk.Serve(dna.New()) }
