package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// TestPinnedSwapRace pins the echo plugin, then swaps another program in
// and out at its path (atomic renames, as fast as they go) while the host
// starts the plugin again and again: a start must run the pinned bytes or
// fail with a checksum error; the other program must never run (it would
// leave a marker file before running the real plugin).
func TestPinnedSwapRace(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, ExecPrefix+"echo")
	good, err := os.ReadFile(filepath.Join(pluginDir, ExecPrefix+"echo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, good, 0o755); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(dir, "plugins.lock")
	h, err := New(Config{Dirs: []string{dir}, LockFile: lockFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Lock(context.Background(), lockFile); err != nil {
		t.Fatal(err)
	}
	if h, err = New(Config{Dirs: []string{dir}, LockFile: lockFile}); err != nil {
		t.Fatal(err)
	}
	// The impostor runs the real plugin after leaving its mark, so a start
	// that ran it would otherwise succeed.
	marker := filepath.Join(dir, "impostor-ran")
	stash := t.TempDir()
	real := filepath.Join(stash, "real")
	os.WriteFile(real, good, 0o755)
	evil := []byte("#!/bin/sh\n: > '" + marker + "'\nexec '" + real + "' \"$@\"\n")
	goodFile, evilFile := filepath.Join(stash, "good"), filepath.Join(stash, "evil")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			src, data := goodFile, good
			if i%2 == 1 {
				src, data = evilFile, evil
			}
			if os.WriteFile(src, data, 0o755) != nil || os.Rename(src, bin) != nil {
				return
			}
		}
	}()
	var ok, refused int
	for i := 0; i < 40; i++ {
		p, err := h.Start(context.Background(), "echo")
		var ce *sdk.ChecksumError
		switch {
		case err == nil:
			ok++
			p.Close()
		case errors.As(err, &ce):
			refused++
		default:
			// The path may be missing for an instant between renames
			// on some file systems; anything else is a failure.
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("start %d: %v", i, err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("40 starts during the swap loop: %d ran the pinned plugin, %d refused by the checksum", ok, refused)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the swapped-in program ran although plugins.lock pins another")
	}
	if ok+refused < 30 {
		t.Fatalf("only %d of 40 starts ran or were refused", ok+refused)
	}
}
