//go:build linux

package host

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mambakit/mambakit/internal/childproc"
	"github.com/mambakit/mambakit/sdk"
)

// TestKillDuringPrepare kills the plugin with SIGKILL while it is writing a
// dataset: the call fails with one clear line, no dataset appears, and a
// rerun succeeds.
func TestKillDuringPrepare(t *testing.T) {
	rec := newLogRecorder()
	h := newHost(t, rec)
	p := start(t, h)
	in := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(in, []byte("some text"), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	hanging := rec.waitFor("hanging")
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.Prepare(context.Background(), sdk.PrepareRequest{Inputs: []string{in}, OutDir: out, ValidFraction: 0.5, Options: map[string]string{"hang": "1"}})
		errc <- err
	}()
	select {
	case <-hanging:
	case <-time.After(30 * time.Second):
		t.Fatal("plugin never started writing")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), ".ds.partial")); err != nil {
		t.Fatalf("no partial dataset while preparing: %v", err)
	}
	syscall.Kill(p.Pid(), syscall.SIGKILL)
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), `plugin "echo" crashed during Prepare (signal: killed)`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	p2 := start(t, h)
	ds, cached, err := p2.Prepare(context.Background(), sdk.PrepareRequest{Inputs: []string{in}, OutDir: out, ValidFraction: 0.5})
	if err != nil || cached || ds.Train.Tokens+ds.Valid.Tokens != 9 {
		t.Errorf("rerun: %+v cached=%v err=%v", ds, cached, err)
	}
}

func TestPluginDiesWithHost(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_TEST_HELPER="+pluginDir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("helper host said %q", line)
	}
	if !childproc.Running(pid) {
		t.Fatal("plugin not running")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for childproc.Running(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 15 s after its host was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCancelPrepare cancels a Prepare (Ctrl-C in the CLI): the call
// returns context.Canceled promptly and no dataset appears.
func TestCancelPrepare(t *testing.T) {
	rec := newLogRecorder()
	p := start(t, newHost(t, rec))
	in := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(in, []byte("text"), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	ctx, cancel := context.WithCancel(context.Background())
	hanging := rec.waitFor("hanging")
	go func() {
		<-hanging
		cancel()
	}()
	_, _, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: []string{in}, OutDir: out, ValidFraction: 0.5, Options: map[string]string{"hang": "1"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	// The plugin's Abort may still be running when the call returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Dir(out))
		if len(ents) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", ents)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotAPlugin starts executables that are not plugins: each fails with
// one line that says what happened.
func TestNotAPlugin(t *testing.T) {
	dir := t.TempDir()
	scripts := map[string]string{
		"chatty": "#!/bin/sh\necho 'hello, I am a shell script'\n",
		"dies":   "#!/bin/sh\necho 'cannot open config' >&2\nexit 7\n",
	}
	for name, body := range scripts {
		os.WriteFile(filepath.Join(dir, ExecPrefix+name), []byte(body), 0o755)
	}
	h := newHost(t, nil, dir)
	for name, want := range map[string]string{
		"chatty": `plugin "chatty" (` + filepath.Join(dir, ExecPrefix+"chatty") + `) is not a mambakit plugin: its first output line was not a go-plugin handshake`,
		"dies":   `plugin "dies" crashed during start (exit status 7); last log: cannot open config`,
	} {
		_, err := h.Start(context.Background(), name)
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error\n%v\nwant one line starting\n%s", name, err, want)
		}
	}
}

// TestInterruptStopsPlugin cancels a Prepare that the plugin never
// finishes (issue 17, R2): the call returns within a second or two of the
// cancellation, and the plugin process is gone, whether it is deaf to its
// context ("stuck") or answers nothing at all ("stop": SIGSTOP, where
// go-plugin's own shutdown call would wait for ever).
func TestInterruptStopsPlugin(t *testing.T) {
	for _, mode := range []string{"stuck", "stop"} {
		t.Run(mode, func(t *testing.T) {
			rec := newLogRecorder()
			p := start(t, newHost(t, rec))
			in := filepath.Join(t.TempDir(), "a.txt")
			os.WriteFile(in, []byte("some text"), 0o644)
			blocked := rec.waitFor(map[string]string{"stuck": "stuck", "stop": "stopping"}[mode])
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, _, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: []string{in}, OutDir: filepath.Join(t.TempDir(), "ds"), ValidFraction: 0.5, Options: map[string]string{mode: "1"}})
				errc <- err
			}()
			select {
			case <-blocked:
			case <-time.After(30 * time.Second):
				t.Fatal("the plugin never blocked")
			}
			time.Sleep(100 * time.Millisecond) // let "stop" stop
			t0 := time.Now()
			cancel()
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("Prepare did not return after its context ended")
			}
			took := time.Since(t0)
			t.Logf("returned %v after the cancellation: %v", took.Round(time.Millisecond), err)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error = %v, want context.Canceled", err)
			}
			if took > sdk.StopGrace+time.Second {
				t.Errorf("took %v, want at most StopGrace (%v) + 1 s", took, sdk.StopGrace)
			}
			if !p.Exited() {
				t.Error("the plugin process is still running")
			}
		})
	}
}

// TestPrepareRefusesFIFO: a named pipe among the inputs is refused at once
// by name and kind; hashing it for the cache key used to block for good.
func TestPrepareRefusesFIFO(t *testing.T) {
	p := start(t, newHost(t, nil))
	fifo := filepath.Join(t.TempDir(), "pipe.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.Prepare(context.Background(), sdk.PrepareRequest{Inputs: []string{fifo}, OutDir: filepath.Join(t.TempDir(), "ds"), ValidFraction: 0.5})
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil || err.Error() != fifo+": is a named pipe (FIFO), not a regular file; save the data to a file first" {
			t.Errorf("error = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Prepare blocked on a named pipe")
	}
}
