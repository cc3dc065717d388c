package train

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunDirOwnedByOneProcess: a child process holds a run directory's
// lock; this process is refused with the child's PID, by LockRunDir and by
// Start and Resume (before they write anything), and gets the directory
// once the child is gone. Within one process the lock is re-entrant.
func TestRunDirOwnedByOneProcess(t *testing.T) {
	if dir := os.Getenv("MAMBAKIT_LOCK_HOLDER"); dir != "" {
		release, err := LockRunDir(dir)
		if err != nil {
			os.Exit(3)
		}
		defer release()
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute) // until killed
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunDirOwnedByOneProcess$")
	cmd.Env = append(os.Environ(), "MAMBAKIT_LOCK_HOLDER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("holder: %q, %v", buf, err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	if _, err := LockRunDir(dir); !errors.Is(err, ErrRunBusy) || !strings.Contains(err.Error(), pid) {
		t.Fatalf("second owner: got %v, want ErrRunBusy naming process %s", err, pid)
	}
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); !errors.Is(err, ErrRunBusy) {
		t.Fatalf("Start: got %v, want ErrRunBusy", err)
	}
	if _, err := Resume(context.Background(), testRun(t, dir, testConfig(3))); !errors.Is(err, ErrRunBusy) {
		t.Fatalf("Resume: got %v, want ErrRunBusy", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("the refused runs wrote into the directory: %v", ents)
	}
	cmd.Process.Kill()
	cmd.Wait()
	release, err := LockRunDir(dir)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	again, err := LockRunDir(dir) // re-entrant
	if err != nil {
		t.Fatalf("second lock in the same process: %v", err)
	}
	again()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatalf("Start while this process holds the lock: %v", err)
	}
	release()
}

// TestClaimLeavesNoEmptyDir: a claim released before anything was written
// removes the directories it created (the run directory and missing
// parents), and never a directory that existed before or holds a file.
func TestClaimLeavesNoEmptyDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "runs", "dna")
	release, err := ClaimNewRunDir(fresh)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(fresh, "data", "tmp"), 0o755) // an empty directory: nothing written
	release()
	if _, err := os.Stat(filepath.Join(base, "runs")); !os.IsNotExist(err) {
		t.Errorf("a released claim left %s: %v", filepath.Join(base, "runs"), err)
	}

	written := filepath.Join(base, "written")
	release, err = ClaimNewRunDir(written)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(written, "data"), 0o755)
	os.WriteFile(filepath.Join(written, "data", "train.tokens"), []byte{1}, 0o644)
	release()
	if _, err := os.Stat(filepath.Join(written, "data", "train.tokens")); err != nil {
		t.Errorf("a claim removed what was written: %v", err)
	}

	existed := filepath.Join(base, "existed")
	os.Mkdir(existed, 0o755)
	release, err = ClaimNewRunDir(existed)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(existed); err != nil {
		t.Errorf("a claim removed a directory that existed before: %v", err)
	}
}

// TestNewOwnerRemovesLeftovers: the temporary files of an owner killed
// before its renames (the fault campaign found checkpoints/.latest.tmp-N
// left for ever) are removed by the next owner of the run directory.
func TestNewOwnerRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(dir, ".config.yaml.tmp-123"), filepath.Join(dir, checkpointsDir, ".latest.tmp-456")}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte("cut"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 4})); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v)", p, err)
		}
	}
}

// TestLockHolderWrittenLate: a second process that comes between the
// owner's lock and its PID (the lock file still empty) names the PID the
// owner writes a moment later, not "(unknown)".
func TestLockHolderWrittenLate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flock(f); err != nil { // another owner, as far as LockRunDir can tell
		t.Fatal(err)
	}
	time.AfterFunc(30*time.Millisecond, func() { f.WriteAt([]byte("4242\n"), 0) })
	if _, err := LockRunDir(dir); !errors.Is(err, ErrRunBusy) || !strings.Contains(err.Error(), "in use by process 4242") {
		t.Fatalf("got %v, want ErrRunBusy naming process 4242", err)
	}
}
