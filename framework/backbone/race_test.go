//go:build race

package backbone

// raceEnabled is true under the race detector, where sync.Pool drops
// buffers at random on purpose, so counts of allocations mean nothing.
const raceEnabled = true
