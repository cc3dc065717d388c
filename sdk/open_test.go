package sdk

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// TestOpenEndsWithContext: a plugin that never sends its handshake (hung,
// or stopped with SIGSTOP while starting) held Open for StartTimeout (30 s)
// whatever the caller's context did, so Ctrl-C went unanswered (the fault
// campaign measured 21–30 s). Open now returns the context's error at
// once and kills the process.
func TestOpenEndsWithContext(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command to stand for a plugin that never starts")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	cmd := exec.Command(sleep, "30")
	start := time.Now()
	p, err := Open(ctx, OpenConfig{Name: "mute", Cmd: cmd})
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, %v; want context.Canceled", p, err)
	}
	if took > 2*time.Second {
		t.Errorf("Open returned %v after its context ended", took)
	}
	// A context that ends after the start changes nothing: the test's own
	// StartTimeout shows Open waited for the handshake, not for ctx.
	if _, err := Open(context.Background(), OpenConfig{Name: "mute", Cmd: exec.Command(sleep, "30"), StartTimeout: 200 * time.Millisecond}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("without a context's end: %v, want a start error", err)
	}
}
