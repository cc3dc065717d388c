#!/usr/bin/env bash
# package-graph.sh: the module's package graph, from go list: each package
# (tests and generated protobuf code left out) with the module packages it
# imports directly. docs/architecture.md quotes its output.
#
#   scripts/package-graph.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./... |
	awk -v mod="$mod/" '
	{
		name = substr($1, length(mod) + 1)
		if (name ~ /internal\/pluginpb|internal\/testplugin|^examples\//) next
		deps = ""
		for (i = 2; i <= NF; i++) {
			if (index($i, mod) != 1) continue
			d = substr($i, length(mod) + 1)
			if (d ~ /internal\/pluginpb/) continue
			deps = deps (deps == "" ? "" : " ") d
		}
		printf "%-28s -> %s\n", name, (deps == "" ? "(none)" : deps)
	}'
