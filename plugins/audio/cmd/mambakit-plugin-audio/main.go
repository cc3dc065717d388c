// Command mambakit-plugin-audio is the raw-audio modality as a standalone
// plugin binary (the mambakit host also runs the same code by re-executing
// itself).
//
//	go build -o bin/ ./plugins/audio/cmd/mambakit-plugin-audio
//
// See docs/plugins-audio.md for its options.
package main

import (
	"github.com/mambakit/mambakit/plugins/audio"
	"github.com/mambakit/mambakit/sdk"
)

func main() { sdk.Serve(audio.New()) }
