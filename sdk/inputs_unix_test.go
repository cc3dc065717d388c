//go:build unix

package sdk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInputsRefuseStreams: a named pipe or a device is refused at once,
// by name and kind, wherever the SDK reads inputs (issue 17, R2); reading
// one would block or never end.
func TestInputsRefuseStreams(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	for name, tc := range map[string]struct{ path, kind string }{
		"fifo":   {fifo, "is a named pipe (FIFO), not a regular file"},
		"device": {"/dev/zero", "is a character device, not a regular file"},
		"dir":    {t.TempDir(), "is a directory, not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, err := ReadInput(tc.path, 1<<20)
				if err == nil || err.Error() != tc.path+": "+tc.kind+"; save the data to a file first" {
					t.Errorf("ReadInput error = %v", err)
				}
				if name == "dir" {
					return
				}
				if _, err := InputFiles([]string{tc.path}, nil); err == nil || !strings.Contains(err.Error(), tc.kind) {
					t.Errorf("InputFiles error = %v", err)
				}
				if _, err := OpenInput(tc.path); err == nil || !strings.Contains(err.Error(), tc.kind) {
					t.Errorf("OpenInput error = %v", err)
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("blocked on the input")
			}
		})
	}
}

func TestReadInputLimit(t *testing.T) {
	f := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(f, make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadInput(f, 1<<20)
	var tl *TooLargeError
	if !errors.As(err, &tl) || err.Error() != f+": 3.0 MiB (3145728 bytes) is more than the 1.0 MiB (1048576 bytes) this reads at once" {
		t.Errorf("error = %v", err)
	}
	if b, err := ReadInput(f, 3<<20); err != nil || len(b) != 3<<20 {
		t.Errorf("at the limit: %d bytes, %v", len(b), err)
	}
}
