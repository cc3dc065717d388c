package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths lists every command and subcommand of the tree, as the
// arguments that name it.
func commandPaths() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, s := range c.Commands() {
			if !s.Hidden {
				walk(s, append(slices.Clip(path), s.Name()))
			}
		}
	}
	walk(newRoot(&invocation{stdout: io.Discard}, io.Discard), nil)
	return paths
}

// TestHelpAndUsageErrors: for every command and subcommand, -h and --help
// print the usage on stdout and exit 0; an unknown flag exits 2 with one
// line on stderr that names the flag and points to --help.
func TestHelpAndUsageErrors(t *testing.T) {
	paths := commandPaths()
	for _, want := range []string{"train", "bench scan", "plugins info", "completion fish"} {
		if !slices.ContainsFunc(paths, func(p []string) bool { return strings.Join(p, " ") == want }) {
			t.Errorf("the command tree lacks %q", want)
		}
	}
	for _, path := range paths {
		name := strings.Join(append([]string{"mambakit"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			for _, h := range []string{"-h", "--help"} {
				var out, errb bytes.Buffer
				code := mainExit(append(slices.Clip(path), h), &out, &errb)
				if code != 0 || !strings.Contains(out.String(), "Usage:") || errb.Len() > 0 {
					t.Errorf("%s %s: exit %d, stdout %.80q, stderr %q; want usage on stdout, exit 0", name, h, code, out.String(), errb.String())
				}
			}
			var out, errb bytes.Buffer
			code := mainExit(append(slices.Clip(path), "--no-such-flag"), &out, &errb)
			msg := errb.String()
			if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "unknown flag: --no-such-flag") || !strings.Contains(msg, "--help") {
				t.Errorf("%s --no-such-flag: exit %d, stderr %q; want exit 2 and one line naming the flag", name, code, msg)
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown command":   {[]string{"trian"}, `unknown command "trian" (did you mean train?)`},
		"bad value":         {[]string{"bench", "scan", "--seq-len", "many"}, `invalid argument "many" for "--seq-len"`},
		"stray argument":    {[]string{"generate", "--checkpoint", dir, "extra"}, `unexpected argument "extra"`},
		"missing argument":  {[]string{"score", "--checkpoint", dir}, "want one FILE to score, got 0"},
		"missing modality":  {[]string{"prepare", "--data", "x.fa", "-o", "ds"}, "missing --modality"},
		"single-dash long":  {[]string{"train", "-steps", "3"}, "-steps: long flags take two dashes: --steps"},
		"no subcommand":     {[]string{"plugins"}, "want a subcommand: list, info NAME or lock"},
		"bench, cuda flag":  {[]string{"bench", "scan", "--warmup", "2"}, "unknown flag: --warmup"},
		"bool, bad value":   {[]string{"generate", "--stop=maybe"}, `invalid argument "maybe" for "--stop"`},
		"batch of none":     {[]string{"generate", "--checkpoint", dir, "--batch", "0"}, "--batch 0: want 1..4096"},
		"two prompt kinds":  {[]string{"generate", "--checkpoint", dir, "--prompt", "a", "--prompts", "p.txt"}, "give one of --prompt, --prompt-file and --prompts"},
		"resume, fixed lr":  {[]string{"train", "--resume", dir, "--lr", "0.01", "--preset", "base"}, "--lr, --preset cannot change when resuming a run"},
		"resume, more data": {[]string{"train", "--resume", dir, "x.fa"}, "--data cannot change when resuming a run"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := mainExit(tc.args, &out, &errb)
			msg := errb.String()
			if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", code, msg, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainExit([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "mambakit ") || !strings.Contains(out.String(), "commit") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestBoolFlagValue: a bool flag followed by true or false takes it as its
// value, as --flag=false does; other arguments stay positional.
func TestBoolFlagValue(t *testing.T) {
	root := newRoot(&invocation{stdout: io.Discard}, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"generate --stop false --tokens 3", "generate --stop=false --tokens 3"},
		{"generate --tokens 3 --stop true", "generate --tokens 3 --stop=true"},
		{"generate --prompt false --stop", "generate --prompt false --stop"}, // a string flag's value
		{"train --tbptt false -v true x.fa", "train --tbptt=false --verbose=true x.fa"},
		{"train --complex data.fa", "train --complex data.fa"},
		{"train --threads -2 -- --tbptt false", "train --threads -2 -- --tbptt false"},
	} {
		got, err := normalizeArgs(root, strings.Fields(tc.in))
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s → %q, %v; want %q", tc.in, strings.Join(got, " "), err, tc.want)
		}
	}
	// Through the CLI: --stop false is not a stray argument.
	var out, errb bytes.Buffer
	code := mainExit([]string{"generate", "--stop", "false", "--checkpoint", t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "nor a run directory") {
		t.Errorf("generate --stop false: exit %d, %q; want the checkpoint's error (exit 1)", code, errb.String())
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if code := mainExit([]string{"completion", shell}, &out, &errb); code != 0 || !strings.Contains(out.String(), "mambakit") {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, out.Len(), errb.String())
		}
	}
}

// TestFailedRunLeavesNoDirectory: a run that fails before its first write
// removes the run directory it created (and the parents it created), and
// never one that existed before.
func TestFailedRunLeavesNoDirectory(t *testing.T) {
	dir := t.TempDir()
	existed := filepath.Join(dir, "existed")
	os.Mkdir(existed, 0o755)
	for name, out := range map[string]string{
		"missing data, new dir":     filepath.Join(dir, "runs", "new"),
		"missing data, existed dir": existed,
	} {
		t.Run(name, func(t *testing.T) {
			var o, e bytes.Buffer
			code := mainExit([]string{"train", "--modality", "dna", "--data", filepath.Join(dir, "nope.fa"), "--out", out}, &o, &e)
			if code != 1 {
				t.Fatalf("exit %d: %s", code, e.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s", filepath.Join(dir, "runs"))
	}
	ents, err := os.ReadDir(existed) // the run-directory lock file (train.LockFile) stays
	if err != nil || len(ents) > 1 || len(ents) == 1 && ents[0].Name() != ".lock" {
		t.Errorf("a failed run removed, or left files in, a directory that existed: %v %v", ents, err)
	}
}
