//go:build unix

package main

import (
	"os"
	"syscall"
)

// stopSelf stops the process (SIGSTOP) until something continues or
// kills it.
func stopSelf() { syscall.Kill(os.Getpid(), syscall.SIGSTOP) }
