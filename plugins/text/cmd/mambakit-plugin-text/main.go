// Command mambakit-plugin-text is the text modality as a standalone plugin
// binary (the mambakit host also runs the same code by re-executing itself).
//
//	go build -o bin/ ./plugins/text/cmd/mambakit-plugin-text
//
// See docs/plugins-text.md for its options.
package main

import (
	"github.com/mambakit/mambakit/plugins/text"
	"github.com/mambakit/mambakit/sdk"
)

func main() { sdk.Serve(text.New()) }
