package distributed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mambakit/mambakit/internal/childproc"
)

// TestRanksDieWithLauncher kills a launcher with SIGKILL: its ranks must
// not outlive it (they would hold their GPUs and wait on NCCL for ever).
func TestRanksDieWithLauncher(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs /proc")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MAMBAKIT_FAKE_LAUNCHER=1", "MAMBAKIT_FAKE_PIDS="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) < 2 {
		pids = pids[:0]
		for r := 0; r < 2; r++ {
			if b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(r))); err == nil {
				if pid, err := strconv.Atoi(string(b)); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the ranks did not start (pids %v)", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline = time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for childproc.Running(pid) {
			if time.Now().After(deadline) {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGKILL)
				}
				t.Fatalf("rank process %d still running 15 s after its launcher was killed", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
