package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/mambakit/mambakit/plugins/audio"
	"github.com/mambakit/mambakit/plugins/dna"
	"github.com/mambakit/mambakit/plugins/text"
	"github.com/mambakit/mambakit/sdk"
)

// pluginArg is the hidden first argument with which mambakit serves one of
// its built-in modalities: the host starts "mambakit __plugin NAME" as a
// separate process, so a built-in is isolated like any plugin while one
// binary holds everything.
const pluginArg = "__plugin"

// builtins are the modalities linked into mambakit, one line each.
var builtins = map[string]func() sdk.Modality{
	"text":  text.New,
	"dna":   dna.New,
	"audio": audio.New,
}

func builtinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// servePlugin serves a built-in when args are [__plugin NAME] and reports
// whether it did; main then returns.
func servePlugin(args []string) bool {
	if len(args) == 0 || args[0] != pluginArg {
		return false
	}
	if len(args) != 2 || builtins[args[1]] == nil {
		fmt.Fprintf(os.Stderr, "mambakit: %s wants one built-in plugin name (%v), got %q\n", pluginArg, builtinNames(), args[1:])
		os.Exit(2)
	}
	sdk.Serve(builtins[args[1]]())
	return true
}
