// Package interrupt ends a command's context at the first Ctrl-C (SIGINT)
// or SIGTERM, with the signal as the context's cause, and turns the error
// of a command so stopped into one that names the signal.
package interrupt

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// Context returns a context that ends at the first Ctrl-C (SIGINT) or
// SIGTERM, with a *Signal as its cause, and the function that stops
// watching. After that first signal the signals' default action is back:
// a second Ctrl-C ends the process at once (the plugins die with it).
// Commands stop at the end of their context: a plugin call is cancelled
// and the plugin stopped within sdk.StopGrace; train saves a checkpoint
// first.
func Context() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&Signal{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// Signal is the cause of a context ended by a signal.
type Signal struct{ Sig os.Signal }

func (e *Signal) Error() string { return "interrupted by " + name(e.Sig) }

func name(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// Error returns err, or, when err is the cancellation of ctx and a signal
// ended ctx, the *Signal: one line that says the command was interrupted.
func Error(ctx context.Context, err error) error {
	var se *Signal
	if err == nil || !errors.As(context.Cause(ctx), &se) || !errors.Is(err, context.Canceled) {
		return err
	}
	return se
}

// Status is the exit status and message of a command that the signal
// which ended ctx stopped: 128 + the signal's number, as a shell reports a
// process the signal ended (130 and "interrupted" when no signal is
// known).
func Status(ctx context.Context) (code int, msg string) {
	code, msg = 130, "interrupted"
	var se *Signal
	if errors.As(context.Cause(ctx), &se) {
		msg = se.Error()
		if s, ok := se.Sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
	}
	return code, msg
}
