package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext returns a context that ends at the first Ctrl-C
// (SIGINT) or SIGTERM, with the signal as its cause. After that first
// signal the signals' default action is back: a second Ctrl-C ends the
// process at once (the plugins die with it). Commands stop at the end of
// their context: a plugin call is cancelled and the plugin stopped within
// sdk.StopGrace; train saves a checkpoint first.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&signalError{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// signalError is the cause of a context ended by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + signalName(e.sig) }

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// interrupted turns the context error of a command stopped by a signal
// into one line that says so; the command exits with status 1 (train,
// which saves a checkpoint and says how to resume, returns nil: status 0).
func interrupted(ctx context.Context, err error) error {
	var se *signalError
	if err == nil || !errors.As(context.Cause(ctx), &se) || !errors.Is(err, context.Canceled) {
		return err
	}
	return se
}

// exitError ends the command with its own exit status, after its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// interruptedExit is the error of a command that a signal stopped with its
// work saved (compare): the signal, then where the work stopped; the exit
// status is 128 + the signal's number (130 for Ctrl-C), as a shell reports
// a process that the signal ended.
func interruptedExit(ctx context.Context, where string) error {
	code, msg := 130, "interrupted"
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		msg = se.Error()
		if s, ok := se.sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
	}
	return &exitError{code, fmt.Errorf("%s: %s", msg, where)}
}
