package main

import (
	"context"
	"fmt"

	"github.com/mambakit/mambakit/internal/interrupt"
)

// exitError ends the command with its own exit status, after its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// interruptedExit is the error of a command that a signal stopped with its
// work saved (compare): the signal, then where the work stopped; the exit
// status is 128 + the signal's number (130 for Ctrl-C).
func interruptedExit(ctx context.Context, where string) error {
	code, msg := interrupt.Status(ctx)
	return &exitError{code, fmt.Errorf("%s: %s", msg, where)}
}
