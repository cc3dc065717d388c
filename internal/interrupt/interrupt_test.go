package interrupt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestErrorAndStatus(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	other := errors.New("disk full")
	cancel(&Signal{syscall.SIGTERM})
	if err := Error(ctx, fmt.Errorf("prepare: %w", context.Canceled)); err == nil || err.Error() != "interrupted by SIGTERM" {
		t.Errorf("Error: %v, want interrupted by SIGTERM", err)
	}
	if err := Error(ctx, other); err != other {
		t.Errorf("Error of another error: %v, want it unchanged", err)
	}
	if code, msg := Status(ctx); code != 143 || msg != "interrupted by SIGTERM" {
		t.Errorf("Status: %d %q, want 143, interrupted by SIGTERM", code, msg)
	}
	plain, stop := context.WithCancel(context.Background())
	stop()
	if err := Error(plain, context.Canceled); err != context.Canceled {
		t.Errorf("no signal: %v, want context.Canceled", err)
	}
	if code, msg := Status(plain); code != 130 || msg != "interrupted" {
		t.Errorf("Status without a signal: %d %q", code, msg)
	}
	if (&Signal{os.Interrupt}).Error() != "interrupted by SIGINT (Ctrl-C)" {
		t.Error("SIGINT's name")
	}
}
