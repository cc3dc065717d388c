package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startServe runs runServe until the test ends and returns its URL and stderr.
func startServe(t *testing.T, addr string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, addr, []string{t.TempDir()}, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve ended with %v", err)
		}
	})
	url := regexp.MustCompile(`http://\S+/`)
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
		if u := url.FindString(stdout.String()); u != "" {
			return u, &stderr
		}
	}
	t.Fatalf("serve printed no address: %q %q", stdout.String(), stderr.String())
	return "", nil
}

func TestServe(t *testing.T) {
	u, stderr := startServe(t, "127.0.0.1:0")
	r, err := http.Get(u + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(b), `"runs":[]`) {
		t.Errorf("/api/runs: %d %s", r.StatusCode, b)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("loopback: stderr %q, want nothing", s)
	}
}

func TestServeWarnsOffLoopback(t *testing.T) {
	_, stderr := startServe(t, "0.0.0.0:0")
	if s := stderr.String(); !strings.Contains(s, "warning: 0.0.0.0:0 is reachable from other machines") {
		t.Errorf("stderr %q, want the warning", s)
	}
}

func TestServeUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"serve"}, 2, "name at least one directory"},
		{[]string{"serve", "--addr", "nohost", t.TempDir()}, 2, `--addr "nohost"`},
		{[]string{"serve", "/no/such/dir"}, 1, "/no/such/dir"},
	} {
		var stdout, stderr bytes.Buffer
		if code := mainExit(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.err)
		}
	}
}
