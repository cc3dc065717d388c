// Command mambakit trains and compares Mamba models over modality plugins.
//
// Usage: mambakit <command> [flags]. Run "mambakit help" for the commands;
// docs/cli.md documents each one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. run gets the arguments after the command name
// and writes its normal output to stdout; its context ends at the first
// Ctrl-C or SIGTERM (interrupt.go). bench has no context: it keeps the
// signals' default action.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

// commands is the CLI's table of contents; each entry lives in its own file.
var commands = map[string]command{
	"bench":    {"measure training and scan speed (bench train | bench scan)", nil},
	"plugins":  {"list, describe and pin modality plugins (plugins list | info NAME | lock)", runPlugins},
	"prepare":  {"tokenize data into a dataset with a modality plugin", runPrepare},
	"encode":   {"turn one file into a token file with a modality plugin", runEncode},
	"decode":   {"turn a token file back into a file with a modality plugin", runDecode},
	"train":    {"train a model on a modality (train --modality M --data PATH --out DIR | train --resume DIR)", runTrain},
	"eval":     {"bits per unit of a checkpoint on held-out files", runEval},
	"generate": {"sample from a checkpoint with the recurrent step", runGenerate},
	"score":    {"per-token log-probabilities of a file under a checkpoint (CSV)", runScore},
	"baseline": {"order-K Markov baseline of a modality's data, in bits per unit", runBaseline},
	"compare":  {"train a grid of runs (modalities × variants × any settings × seeds) and report, or report existing runs", runCompare},
}

func main() {
	if servePlugin(os.Args[1:]) {
		return
	}
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

func mainExit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mambakit: unknown command %q (run \"mambakit help\")\n", args[0])
		return 2
	}
	var err error
	if args[0] == "bench" {
		err = runBench(args[1:], stdout)
	} else {
		ctx, stop := interruptContext()
		err = cmd.run(ctx, args[1:], stdout)
		stop()
		err = interrupted(ctx, err)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if ee := (*exitError)(nil); errors.As(err, &ee) {
			fmt.Fprintf(stderr, "mambakit %s: %v\n", args[0], err)
			return ee.code
		}
		fmt.Fprintf(stderr, "mambakit %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mambakit: Mamba models over modality plugins (docs/cli.md)")
	fmt.Fprintln(w, "\nUsage: mambakit <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
