package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mambakit/mambakit/sdk"
)

// pluginDir holds the test plugin, built once for the whole package as
// mambakit-plugin-echo (sdk/internal/testplugin).
var pluginDir string

func TestMain(m *testing.M) {
	if os.Getenv("HOST_TEST_HELPER") != "" {
		helperHost()
		return
	}
	dir, err := os.MkdirTemp("", "mambakit-host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, ExecPrefix+"echo"),
		"github.com/mambakit/mambakit/sdk/internal/testplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// helperHost is a host process for TestPluginDiesWithHost: it starts the
// plugin, prints its pid and waits to be killed.
func helperHost() {
	h, err := New(Config{Dirs: []string{os.Getenv("HOST_TEST_HELPER")}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	p, err := h.Start(context.Background(), "echo")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	time.Sleep(time.Minute)
}

// logRecorder is a slog.Handler that keeps every record's message and
// attributes and signals when a given message arrives.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	wait  map[string]chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{wait: map[string]chan struct{}{}} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, b.String())
	if ch, ok := r.wait[rec.Message]; ok {
		close(ch)
		delete(r.wait, rec.Message)
	}
	return nil
}

// waitFor returns a channel closed when msg is logged.
func (r *logRecorder) waitFor(msg string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	r.wait[msg] = ch
	return ch
}

func (r *logRecorder) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func newHost(t *testing.T, rec *logRecorder, dirs ...string) *Host {
	t.Helper()
	if dirs == nil {
		dirs = []string{pluginDir}
	}
	cfg := Config{Dirs: dirs, LockFile: filepath.Join(t.TempDir(), "plugins.lock")}
	if rec != nil {
		cfg.Log = slog.New(rec)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func start(t *testing.T, h *Host) *Plugin {
	t.Helper()
	p, err := h.Start(context.Background(), "echo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("mambakit-plugin-a", 0o755)
	write("mambakit-plugin-noexec", 0o644)
	write("other-tool", 0o755)
	h, err := New(Config{Dirs: []string{dir, filepath.Join(dir, "missing"), pluginDir}, Builtins: []string{"a", "z"}, Self: "/bin/mambakit", BuiltinArg: "__plugin"})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := h.Discover()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, fmt.Sprintf("%s %s %v %v %v", e.Name, filepath.Base(e.Path), e.Args, e.Builtin, e.Shadows))
	}
	// Without an opt-in the built-in keeps its name and the external
	// plugin is ignored, with the reason.
	want := []string{
		"a mambakit [__plugin a] true []",
		"echo mambakit-plugin-echo [] false []",
		"z mambakit [__plugin z] true []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Discover:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ents[0].Ignored) != 1 || !strings.Contains(ents[0].Ignored[0], "mambakit-plugin-a: an external plugin may stand in for the built-in a only when") {
		t.Errorf("ignored: %q", ents[0].Ignored)
	}
	// With --shadow a, the external plugin stands in for the built-in.
	hs, err := New(Config{Dirs: []string{dir, filepath.Join(dir, "missing"), pluginDir}, Builtins: []string{"a", "z"}, Self: "/bin/mambakit", BuiltinArg: "__plugin", Shadow: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	ents, err = hs.Discover()
	if err != nil {
		t.Fatal(err)
	}
	if e := ents[0]; e.Name != "a" || e.Builtin || !slices.Equal(e.Shadows, []string{"built-in"}) {
		t.Errorf("with Shadow a: %+v", e)
	}
	_, err = h.Find("nope")
	if err == nil || !strings.Contains(err.Error(), `no plugin "nope"`) || !strings.Contains(err.Error(), "available: a, echo, z") {
		t.Errorf("Find(nope) = %v", err)
	}
	// Without plugin directories the error says where plugins come from
	// (it said "no mambakit-plugin-nope in ").
	hb, err := New(Config{Builtins: []string{"a"}, Self: "/bin/mambakit", BuiltinArg: "__plugin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = hb.Find("nope"); err == nil || !strings.Contains(err.Error(), `no plugin "nope" (no plugin directory: --plugin-dir or $MAMBAKIT_PLUGIN_PATH); available: a`) {
		t.Errorf("Find(nope) without directories = %v", err)
	}
}

func TestStartAndCall(t *testing.T) {
	rec := newLogRecorder()
	p := start(t, newHost(t, rec))
	if p.Info.Name != "echo" || p.Info.Version != "1.2.3" || p.Info.ProtocolVersion != 1 {
		t.Errorf("Info = %+v", p.Info)
	}
	ctx := context.Background()
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: []byte("hi")})
	if err != nil || !slices.Equal(ids, sdk.Tokens{'h', 'i'}) {
		t.Errorf("Encode = %v, %v", ids, err)
	}
	_, err = p.Decode(ctx, sdk.DecodeRequest{Tokens: sdk.Tokens{300}})
	var re *sdk.RemoteError
	if !errors.As(err, &re) || re.Error() != "token 0: id 300 is not a byte" {
		t.Errorf("Decode(300) error = %#v, want the plugin's message", err)
	}
	// Logs: the plugin's slog lines and its stdout reach the host's log;
	// the malformed JSON line it prints at start did not panic the host.
	in := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(in, []byte("hello"), 0o644)
	if _, _, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: []string{in}, OutDir: filepath.Join(t.TempDir(), "ds"), ValidFraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !(rec.has("INFO preparing plugin=echo") && rec.has("hello on stdout") && rec.has(`"@message": 5`)) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin log lines missing from the host log:\n%s", strings.Join(rec.lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHandshakeMismatch(t *testing.T) {
	t.Setenv("TESTPLUGIN_PROTOCOL", "2")
	_, err := newHost(t, nil).Start(context.Background(), "echo")
	want := `plugin "echo" (` + filepath.Join(pluginDir, "mambakit-plugin-echo") + `) speaks protocol v2, this mambakit speaks v1`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestChecksum(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, ExecPrefix+"echo")
	data, err := os.ReadFile(filepath.Join(pluginDir, ExecPrefix+"echo"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	lockFile := filepath.Join(dir, "plugins.lock")
	h, err := New(Config{Dirs: []string{dir}, LockFile: lockFile})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Lock(context.Background(), lockFile)
	if err != nil {
		t.Fatal(err)
	}
	if e := l.Plugins["echo"]; e.Version != "1.2.3" || !strings.HasPrefix(e.SHA256, "sha256:") || len(e.SHA256) != 71 {
		t.Errorf("lock entry %+v", e)
	}
	h, _ = New(Config{Dirs: []string{dir}, LockFile: lockFile})
	p, err := h.Start(context.Background(), "echo")
	if err != nil {
		t.Fatalf("pinned plugin: %v", err)
	}
	p.Close()
	// The binary changes (an appended byte still runs).
	os.WriteFile(bin, append(data, 0), 0o755)
	_, err = h.Start(context.Background(), "echo")
	var ce *sdk.ChecksumError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "plugins.lock") {
		t.Errorf("changed binary: error %v, want a checksum error naming plugins.lock", err)
	}
}

func TestCrash(t *testing.T) {
	p := start(t, newHost(t, nil))
	in := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(in, []byte("x"), 0o644)
	_, _, err := p.Prepare(context.Background(), sdk.PrepareRequest{Inputs: []string{in}, OutDir: filepath.Join(t.TempDir(), "ds"), ValidFraction: 0.5, Options: map[string]string{"crash": "1"}})
	var ce *sdk.CrashError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a crash error", err)
	}
	want := `plugin "echo" crashed during Prepare (exit status 3); last log: `
	if got := err.Error(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "| about to crash") || strings.Contains(got, "\n") {
		t.Errorf("error\n%s\nwant one line starting\n%s\nand ending in the last log line", got, want)
	}
}

func TestPrepareCache(t *testing.T) {
	p := start(t, newHost(t, nil))
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("first document"), 0o644)
	os.WriteFile(filepath.Join(in, "b.txt"), []byte("second"), 0o644)
	req := sdk.PrepareRequest{Inputs: []string{in}, OutDir: filepath.Join(dir, "ds"), ValidFraction: 0.5, Seed: 3}
	ctx := context.Background()
	for i, want := range []bool{false, true} {
		ds, cached, err := p.Prepare(ctx, req)
		if err != nil || cached != want || ds.Train.Tokens+ds.Valid.Tokens != 20 {
			t.Errorf("run %d: %+v cached=%v (want %v) err=%v", i, ds, cached, want, err)
		}
	}
	// A damaged dataset is not reused.
	os.WriteFile(filepath.Join(req.OutDir, "train.tokens"), []byte{1}, 0o644)
	if _, cached, err := p.Prepare(ctx, req); err != nil || cached {
		t.Errorf("after truncating train.tokens: cached=%v err=%v", cached, err)
	}
	for name, change := range map[string]func(){
		"seed":    func() { req.Seed++ },
		"options": func() { req.Options = map[string]string{"x": "y"} },
		"content": func() { os.WriteFile(filepath.Join(in, "b.txt"), []byte("SECOND"), 0o644) },
		"file":    func() { os.WriteFile(filepath.Join(in, "c.txt"), nil, 0o644) },
	} {
		change()
		if _, cached, err := p.Prepare(ctx, req); err != nil || cached {
			t.Errorf("after changing the %s: cached=%v err=%v", name, cached, err)
		}
	}
	// An option naming a file (a tokenizer.json) counts by the file's content.
	tok := filepath.Join(dir, "tokenizer.json")
	os.WriteFile(tok, []byte(`{"v": 1}`), 0o644)
	req.Options = map[string]string{"tokenizer": tok}
	for i, want := range []bool{false, true} {
		if _, cached, err := p.Prepare(ctx, req); err != nil || cached != want {
			t.Errorf("option file, run %d: cached=%v (want %v) err=%v", i, cached, want, err)
		}
	}
	os.WriteFile(tok, []byte(`{"v": 2}`), 0o644)
	if _, cached, err := p.Prepare(ctx, req); err != nil || cached {
		t.Errorf("after editing the file an option names: cached=%v err=%v", cached, err)
	}
	missing := filepath.Join(dir, "nope.txt")
	_, _, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: []string{missing}, OutDir: filepath.Join(dir, "ds2"), ValidFraction: 0.5})
	if err == nil || err.Error() != missing+": no such file or directory" {
		t.Errorf("missing input: %v", err)
	}
}

// TestLargeMessage sends more than gRPC's default 4 MiB each way.
func TestLargeMessage(t *testing.T) {
	p := start(t, newHost(t, nil))
	data := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	ctx := context.Background()
	t0 := time.Now()
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: data})
	if err != nil || len(ids) != len(data) {
		t.Fatalf("Encode 6 MiB: %d tokens, %v", len(ids), err)
	}
	back, err := p.Decode(ctx, sdk.DecodeRequest{Tokens: ids})
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("Decode 24 MiB of tokens: %d bytes, %v", len(back), err)
	}
	t.Logf("6 MiB in, 24 MiB of tokens out and back: %v", time.Since(t0))
}

// BenchmarkPluginCall measures a call to a real plugin process: latency
// for a small Encode, throughput for a large one (bytes in; 4x out).
func BenchmarkPluginCall(b *testing.B) {
	h, err := New(Config{Dirs: []string{pluginDir}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := h.Start(context.Background(), "echo")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, size := range []int{16, 1 << 20, 16 << 20} {
		data := bytes.Repeat([]byte{7}, size)
		b.Run(fmt.Sprintf("Encode/%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := p.Encode(context.Background(), sdk.EncodeRequest{Data: data}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Start", func(b *testing.B) {
		for b.Loop() {
			p, err := h.Start(context.Background(), "echo")
			if err != nil {
				b.Fatal(err)
			}
			p.Close()
		}
	})
}
