// Command mambakit trains and compares Mamba models over modality plugins.
//
// Usage: mambakit <command> [flags]. Run "mambakit --help" for the
// commands; docs/cli.md documents each one. root.go builds the command
// tree (github.com/spf13/cobra), one file per command.
package main

import "os"

func main() {
	if servePlugin(os.Args[1:]) {
		return
	}
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}
