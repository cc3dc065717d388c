//go:build faults && linux

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var mounts struct {
	sync.Mutex
	dirs []string
}

// smallDisk mounts a tmpfs of the given size (as "600k") at a fresh
// directory, unmounted when the case ends; it skips the case, with a line
// saying why, when not root or when the mount fails.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "disk full needs root, to mount a small tmpfs")
	}
	d := filepath.Join(dir(t), "mnt")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", d, "tmpfs", 0, "size="+size); err != nil {
		skip(t, "mount a tmpfs: %v", err)
	}
	mounts.Lock()
	mounts.dirs = append(mounts.dirs, d)
	mounts.Unlock()
	t.Cleanup(func() { syscall.Unmount(d, syscall.MNT_DETACH) })
	return d
}

// grow gives a small disk more room (200 MB), as a user freeing space
// would.
func grow(t *testing.T, d string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", d, "tmpfs", syscall.MS_REMOUNT, "size=200m"); err != nil {
		t.Fatalf("remount %s larger: %v", d, err)
	}
}

// fill writes a file until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	for {
		if _, err := f.Write(b); err != nil {
			return
		}
	}
}

// unmountAll unmounts what a case failed to (the campaign ends).
func unmountAll() {
	mounts.Lock()
	defer mounts.Unlock()
	for _, d := range mounts.dirs {
		syscall.Unmount(d, syscall.MNT_DETACH)
	}
}

// TestDiskFull runs out of disk space while training, preparing and
// encoding (a tmpfs of a few hundred KB to a few MB): the command fails in
// one line with the system's error, the last checkpoint stays whole and
// latest, and once there is room the run resumes to the same weights as
// the uninterrupted run.
func TestDiskFull(t *testing.T) {
	reference(t)
	// A checkpoint is about 800 KB; keep_last 3 and the one being written
	// need 3.2 MB, so each size runs out at a different point: the dataset,
	// the first, second or third checkpoint, or in the steady state.
	for _, size := range []string{"40k", "600k", "1200k", "2000k", "2900k", fmt.Sprintf("%dk", 100+randInt(3100))} {
		try(t, classDisk, "train on a "+size+" disk", func(t *testing.T) {
			d := smallDisk(t, size)
			run := filepath.Join(d, "run")
			r := start(t, tmp, nil, 120*time.Second, trainArgs(run)...).wait()
			if r.code == 0 {
				t.Fatalf("the run fit in %s: %v", size, r)
			}
			refused(t, r, "no space left on device")
			latestWhole(t, run)
			grow(t, d)
			finish(t, run)
			sameAsReference(t, run)
			noLeftovers(t)
			t.Logf("%s", strings.TrimSpace(r.stderr))
		})
	}
	try(t, classDisk, "prepare on a full disk", func(t *testing.T) {
		d := smallDisk(t, "4m")
		fa := bigFASTA(t) // 24 MB of tokens: more than the disk holds
		out := filepath.Join(d, "ds")
		r := mk(t, tmp, "prepare", "--modality", "dna", "--data", fa, "-o", out)
		refused(t, r, "no space left on device")
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("left behind on the full disk: %v", ents)
		}
		grow(t, d)
		ok(t, mk(t, tmp, "prepare", "--modality", "dna", "--data", fa, "-o", out))
		noLeftovers(t)
		t.Logf("%s", strings.TrimSpace(r.stderr))
	})
	try(t, classDisk, "encode on a full disk", func(t *testing.T) {
		d := smallDisk(t, "64k")
		fill(t, filepath.Join(d, "filler"))
		out := filepath.Join(d, "x.tok")
		r := mk(t, tmp, "encode", "--modality", "dna", testdata("dna", "ecoli_536_sample.fa"), "-o", out)
		refused(t, r, "no space left on device")
		if ents, _ := os.ReadDir(d); len(ents) != 1 {
			t.Errorf("left behind on the full disk: %v", ents)
		}
		t.Logf("%s", strings.TrimSpace(r.stderr))
	})
}
