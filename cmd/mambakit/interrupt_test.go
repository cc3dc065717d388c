//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptEndsCommand sends Ctrl-C or SIGTERM to a command whose
// plugin is blocked in a call (issue 17, R2): the command ends within about
// a second (sdk.StopGrace for a plugin that answers nothing), says it was
// interrupted, exits 1, and leaves no plugin process behind.
// trainInterrupted is train's last line when it is interrupted before the
// first step.
const trainInterrupted = "interrupted before training began: nothing was saved; run the same command again to start"

func TestInterruptEndsCommand(t *testing.T) {
	for name, tc := range map[string]struct {
		sig  syscall.Signal
		args []string
		want string // the last line on stderr; for train, on stdout (exit 0: nothing was lost)
	}{
		"prepare, plugin stuck, Ctrl-C": {syscall.SIGINT, []string{"prepare", "--option", "stuck=1", "-o", "ds"}, "mambakit prepare: interrupted by SIGINT (Ctrl-C)"},
		"prepare, plugin stopped, TERM": {syscall.SIGTERM, []string{"prepare", "--option", "stop=1", "-o", "ds"}, "mambakit prepare: interrupted by SIGTERM"},
		"train, plugin stopped, Ctrl-C": {syscall.SIGINT, []string{"train", "--option", "stop=1", "--out", "run"}, trainInterrupted},
		"train, plugin stuck, SIGTERM":  {syscall.SIGTERM, []string{"train", "--option", "stuck=1", "--out", "run"}, trainInterrupted},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "a.txt")
			os.WriteFile(in, []byte("some text"), 0o644)
			args := append(tc.args, "--modality", "echo", "--data", in, "-v")
			cmd := exec.Command(os.Args[0], args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MAMBAKIT_TEST_CLI=1", "MAMBAKIT_PLUGIN_PATH="+echoDir)
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			// Wait for the plugin to block, keeping what the command says.
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			var out []string
			timeout := time.After(60 * time.Second)
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("the command ended before the plugin blocked:\n%s", strings.Join(out, "\n"))
					}
					out = append(out, l)
					if strings.Contains(l, "msg=stuck") || strings.Contains(l, "msg=stopping") {
						break wait
					}
				case <-timeout:
					t.Fatalf("the plugin never blocked:\n%s", strings.Join(out, "\n"))
				}
			}
			time.Sleep(100 * time.Millisecond) // let "stop" stop
			t0 := time.Now()
			cmd.Process.Signal(tc.sig)
			for l := range lines {
				out = append(out, l)
			}
			err = cmd.Wait()
			took := time.Since(t0)
			t.Logf("exited %v after the signal: %v", took.Round(time.Millisecond), err)
			if tc.want == trainInterrupted {
				if err != nil {
					t.Errorf("train interrupted before training began: exit %v, want 0", err)
				}
				out = strings.Split(strings.TrimSpace(stdout.String()), "\n")
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			if took > 2500*time.Millisecond {
				t.Errorf("took %v after the signal, want at most 2.5 s", took)
			}
			if last := out[len(out)-1]; last != tc.want {
				t.Errorf("last line %q, want %q\n%s", last, tc.want, strings.Join(out, "\n"))
			}
		})
	}
}
