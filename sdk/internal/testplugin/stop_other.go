//go:build !unix

package main

// stopSelf blocks for good where a process cannot stop itself.
func stopSelf() { select {} }
