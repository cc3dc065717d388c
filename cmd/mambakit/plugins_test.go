package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDir holds the protein example plugin, built once for the package;
// echoDir the SDK's test plugin (interrupt_test.go).
var pluginDir, echoDir string

// TestMain serves the built-in plugins when the host re-executes the test
// binary as "TESTBINARY __plugin NAME", as it does the mambakit binary.
func TestMain(m *testing.M) {
	if servePlugin(os.Args[1:]) {
		return
	}
	if os.Getenv("MAMBAKIT_TEST_CLI") != "" { // the test binary as the mambakit command (rundir_test.go)
		os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
	}
	dir, err := os.MkdirTemp("", "mambakit-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "mambakit-plugin-protein"),
		"github.com/mambakit/mambakit/examples/plugins/protein").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the protein plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	// The SDK's test plugin, which misbehaves on request, in a directory of
	// its own: only the tests that need it put it on the plugin path.
	echoDir = filepath.Join(dir, "echo")
	out, err = exec.Command("go", "build", "-o", filepath.Join(echoDir, "mambakit-plugin-echo"),
		"github.com/mambakit/mambakit/sdk/internal/testplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs mambakit with args in a fresh working directory and the protein
// plugin on the plugin path.
func cli(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("MAMBAKIT_PLUGIN_PATH", pluginDir)
	t.Chdir(dir)
	var o, e bytes.Buffer
	code = mainExit(args, &o, &e)
	return o.String(), e.String(), code
}

func TestPluginsList(t *testing.T) {
	out, errOut, code := cli(t, t.TempDir(), "plugins", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Compare with the column padding squeezed out.
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	squeezed := strings.Join(lines, "\n")
	for _, want := range []string{
		"NAME VERSION PROTOCOL KIND VOCAB UNIT PATH",
		"protein 0.1.0 v1 discrete 22 residue " + filepath.Join(pluginDir, "mambakit-plugin-protein"),
		"text 0.1.0 v1 discrete",
		"dna 0.1.0 v1 discrete",
		"audio 0.1.0 v1 continuous",
	} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("plugins list output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = cli(t, t.TempDir(), "plugins", "info", "protein")
	if flat := strings.Join(strings.Fields(out), " "); code != 0 || !strings.Contains(flat, "special tokens: sep=0") || !strings.Contains(flat, "checksum: not pinned") {
		t.Errorf("plugins info: exit %d\n%s", code, out)
	}
}

func TestPluginsLock(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := cli(t, dir, "plugins", "lock")
	if code != 0 || !strings.Contains(out, "wrote plugins.lock:\n  protein  0.1.0  sha256:") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	out, _, _ = cli(t, dir, "plugins", "info", "protein")
	if !strings.Contains(out, "(plugins.lock, verified at start)") {
		t.Errorf("after lock, info says:\n%s", out)
	}
	// A pin that no longer matches: the plugin is refused.
	lock, _ := os.ReadFile(filepath.Join(dir, "plugins.lock"))
	i := bytes.Index(lock, []byte("sha256:")) + 7
	if lock[i] == '0' { // another valid hex digit, so the pin parses but differs
		lock[i] = '1'
	} else {
		lock[i] = '0'
	}
	os.WriteFile(filepath.Join(dir, "plugins.lock"), lock, 0o644)
	_, errOut, code = cli(t, dir, "plugins", "info", "protein")
	if code != 1 || !strings.Contains(errOut, "checksum does not match") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("tampered pin: exit %d, stderr %q", code, errOut)
	}
}

func TestPrepareEncodeDecode(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "p.fa")
	os.WriteFile(fa, []byte(">a\nMKV\n>b\nACDE\n>c\nWY\n>d\nGGGG\n"), 0o644)
	out, errOut, code := cli(t, dir, "prepare", "--modality", "protein", "--data", fa, "-o", "ds", "--valid", "0.3")
	if code != 0 {
		t.Fatalf("prepare: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"prepared protein dataset in ds\n", "   3 tokens  1 documents   3 residues", "  10 tokens  3 documents  10 residues", "vocabulary 22, 1.000 residues per token"} {
		if !strings.Contains(out, want) {
			t.Errorf("prepare output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = cli(t, dir, "prepare", "--modality", "protein", fa, "-o", "ds", "--valid", "0.3")
	if !strings.Contains(out, "(cached") {
		t.Errorf("second prepare not cached:\n%s", out)
	}
	for _, tok := range []string{"p.txt", "p.bin"} {
		if _, errOut, code := cli(t, dir, "encode", "--modality", "protein", fa, "-o", tok); code != 0 {
			t.Fatalf("encode -o %s: %s", tok, errOut)
		}
		if _, errOut, code := cli(t, dir, "decode", "--modality", "protein", tok, "-o", tok+".fa"); code != 0 {
			t.Fatalf("decode %s: %s", tok, errOut)
		}
		got, _ := os.ReadFile(filepath.Join(dir, tok+".fa"))
		if want := ">1\nMKV\n>2\nACDE\n>3\nWY\n>4\nGGGG\n"; string(got) != want {
			t.Errorf("decode(encode) via %s = %q, want %q", tok, got, want)
		}
	}
	txt, _ := os.ReadFile(filepath.Join(dir, "p.txt"))
	if !strings.HasPrefix(string(txt), "11\n9\n18\n0\n1\n") {
		t.Errorf("text token file starts %q", txt[:min(len(txt), 20)])
	}
	if bin, _ := os.ReadFile(filepath.Join(dir, "p.bin")); len(bin) != 4*16 {
		t.Errorf("binary token file has %d bytes, want %d", len(bin), 4*16)
	}
}

// TestBadInputOneLine checks that bad input exits non-zero with one line
// naming the file and the problem.
func TestBadInputOneLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
		return p
	}
	junk := write("junk.fa", []byte(">x\nMK\x00\xff\x01V\n"))
	empty := write("empty.fa", nil)
	write("nofa/readme.md", []byte("no FASTA here"))
	badTok := write("bad.txt", []byte("1\n2\nx3\n"))
	oddBin := write("odd.bin", []byte{1, 2, 3})
	tests := map[string]struct {
		args []string
		want string
	}{
		"missing path":    {[]string{"prepare", "--modality", "protein", "--data", filepath.Join(dir, "nope.fa"), "-o", "o1"}, "nope.fa: no such file or directory"},
		"binary junk":     {[]string{"prepare", "--modality", "protein", "--data", junk, "-o", "o2"}, `junk.fa: line 2: '\x00' is not an amino acid`},
		"empty file":      {[]string{"prepare", "--modality", "protein", "--data", empty, "-o", "o3"}, "empty.fa: no FASTA record"},
		"empty dir":       {[]string{"prepare", "--modality", "protein", "--data", filepath.Join(dir, "nofa"), "-o", "o4"}, "nofa: directory has no readable file ending in .fa, .fasta, .faa"},
		"no modality":     {[]string{"prepare", "--modality", "nope", "--data", junk, "-o", "o5"}, `no plugin "nope"`},
		"encode junk":     {[]string{"encode", "--modality", "protein", junk, "-o", "t"}, `junk.fa: line 2`},
		"bad token file":  {[]string{"decode", "--modality", "protein", badTok, "-o", "x.fa"}, `bad.txt: line 3: "x3" is not a token id`},
		"odd binary":      {[]string{"decode", "--modality", "protein", oddBin, "-o", "x.fa"}, "odd.bin: binary token file: 3 bytes is not a multiple of 4"},
		"id out of range": {[]string{"decode", "--modality", "protein", write("big.txt", []byte("99\n")), "-o", "x.fa"}, "big.txt: token id 99 is not in [0, 21]"},
		"unknown flag":    {[]string{"prepare", "--bogus"}, "unknown flag: --bogus"},
		"missing -o":      {[]string{"encode", "--modality", "protein", junk}, "missing -o FILE"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := cli(t, dir, tt.args...)
			if code == 0 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want one line containing %q (stdout %q)", code, errOut, tt.want, out)
			}
		})
	}
	for _, o := range []string{"o1", "o2", "o3", "o4", "o5", "t", "x.fa"} {
		if _, err := os.Stat(filepath.Join(dir, o)); err == nil {
			t.Errorf("a failed command left %s", o)
		}
	}
}
