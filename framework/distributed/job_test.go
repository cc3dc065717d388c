package distributed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestMain doubles as the fake rank of the launcher tests: with
// MAMBAKIT_FAKE_RANK set, the test binary behaves as one rank would.
func TestMain(m *testing.M) {
	if mode := os.Getenv("MAMBAKIT_FAKE_RANK"); mode != "" {
		os.Exit(fakeRank(mode))
	}
	if os.Getenv("MAMBAKIT_FAKE_LAUNCHER") != "" {
		os.Exit(fakeLauncher())
	}
	os.Exit(m.Run())
}

func fakeRank(mode string) int {
	d, err := FromEnv(os.Getenv, Flags{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch mode {
	case "ok":
		fmt.Printf("hello from rank %d of %d on GPU %d via %s, NCCL_NVLS_ENABLE=%s\n", d.Rank, d.World, d.LocalRank, d.Coordinator, os.Getenv("NCCL_NVLS_ENABLE"))
		return 0
	case "hang": // say where we are, then wait for ever (until killed)
		os.WriteFile(filepath.Join(os.Getenv("MAMBAKIT_FAKE_PIDS"), strconv.Itoa(d.Rank)), []byte(strconv.Itoa(os.Getpid())), 0o644)
		select {}
	case "fail1", "stubborn":
		if d.Rank == 1 {
			fmt.Fprintln(os.Stderr, "rank 1: cuda: out of memory")
			return 3
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		for {
			<-sig // the launcher stops us after rank 1 failed
			if mode == "fail1" {
				return 0
			}
			// stubborn: ignore it; the launcher kills us after its grace
		}
	}
	return 2
}

// fakeLauncher is a launcher process of two "hang" ranks, for a test to
// kill.
func fakeLauncher() int {
	exe, err := os.Executable()
	if err != nil {
		return 2
	}
	l := &Launch{Exe: exe, Args: []string{"-test.run=^$"}, Env: append(os.Environ(), "MAMBAKIT_FAKE_RANK=hang", "MAMBAKIT_FAKE_LAUNCHER="),
		GPUs: 2, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := l.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func fakeLaunch(t *testing.T, mode string, gpus int) (*Launch, *bytes.Buffer, *syncBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	var out bytes.Buffer
	errb := &syncBuffer{}
	env := append(os.Environ(), "MAMBAKIT_FAKE_RANK="+mode, "NCCL_NVLS_ENABLE=1", EnvRank+"=7")
	return &Launch{Exe: exe, Args: []string{"-test.run=^$"}, Env: env, GPUs: gpus, Stdout: &out, Stderr: errb, Grace: 200 * time.Millisecond}, &out, errb
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLaunchRanks(t *testing.T) {
	l, out, errb := fakeLaunch(t, "ok", 3)
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	if !strings.HasPrefix(out.String(), "hello from rank 0 of 3 on GPU 0 via 127.0.0.1:") || !strings.Contains(out.String(), "NCCL_NVLS_ENABLE=0") {
		t.Fatalf("rank 0 wrote %q", out.String())
	}
	for r := 1; r < 3; r++ {
		if want := fmt.Sprintf("[rank %d] hello from rank %d of 3 on GPU %d via 127.0.0.1:", r, r, r); !strings.Contains(errb.String(), want) {
			t.Fatalf("no %q in %q", want, errb)
		}
	}
	if strings.Contains(errb.String(), "NCCL_NVLS_ENABLE=1") {
		t.Fatal("a rank ran with NVLink multicast allowed")
	}
}

func TestLaunchNodes(t *testing.T) {
	// Host 1 of 2 with 2 GPUs runs ranks 2 and 3 of 4.
	l, out, errb := fakeLaunch(t, "ok", 2)
	l.Nodes, l.NodeRank, l.Addr = 2, 1, "node0.example:29500"
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	if out.Len() != 0 {
		t.Fatalf("host 1 has no rank 0, yet wrote %q", out)
	}
	for _, want := range []string{"[rank 2] hello from rank 2 of 4 on GPU 0 via node0.example:29500", "[rank 3] hello from rank 3 of 4 on GPU 1"} {
		if !strings.Contains(errb.String(), want) {
			t.Fatalf("no %q in %q", want, errb)
		}
	}
}

func TestLaunchFailure(t *testing.T) {
	for _, mode := range []string{"fail1", "stubborn"} {
		l, _, errb := fakeLaunch(t, mode, 3)
		err := l.Run(context.Background())
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Rank != 1 || ee.GPU != 1 {
			t.Fatalf("%s: got %v", mode, err)
		}
		if !strings.Contains(err.Error(), "rank 1 (GPU 1) failed: exit status 3") || !strings.Contains(err.Error(), "stopped the other") {
			t.Fatalf("%s: %v", mode, err)
		}
		if !strings.Contains(errb.String(), "[rank 1] rank 1: cuda: out of memory") {
			t.Fatalf("%s: rank 1's message lost: %q", mode, errb)
		}
	}
}

func TestLaunchValidate(t *testing.T) {
	for _, c := range []struct {
		l    Launch
		want string
	}{
		{Launch{GPUs: 0}, "gpus 0"},
		{Launch{GPUs: 2, Nodes: 2}, "needs a coordinator"},
		{Launch{GPUs: 2, Nodes: 2, NodeRank: 2, Addr: "h:1"}, "node rank 2 with 2 nodes"},
		{Launch{GPUs: 2, Nodes: 2, Addr: "h"}, "want HOST:PORT"},
		{Launch{GPUs: 2, Addr: "h:0"}, "want HOST:PORT"},
	} {
		if err := c.l.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%+v: got %v, want %q", c.l, err, c.want)
		}
	}
	l := Launch{GPUs: 2}
	if err := l.Validate(); err != nil || l.Nodes != 1 {
		t.Fatal(err)
	}
}

func TestDistFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if d, err := FromEnv(env(), Flags{}); d != nil || err != nil {
		t.Fatal("no MAMBAKIT_RANK: want a single process")
	}
	d, err := FromEnv(env(EnvRank, "3", EnvWorld, "4", EnvLocalRank, "1", EnvCoordinator, "h:5", EnvDistTimeout, "90s", EnvBucketMB, "0.5"), Flags{})
	if err != nil || d.Rank != 3 || d.World != 4 || d.LocalRank != 1 || d.Coordinator != "h:5" || d.Timeout != 90*time.Second || d.BucketBytes != 1<<19 || d.Lead() {
		t.Fatalf("%+v %v", d, err)
	}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env(EnvRank, "x", EnvWorld, "2"), "MAMBAKIT_RANK=\"x\""},
		{env(EnvRank, "2", EnvWorld, "2", EnvCoordinator, "h:1"), "want rank < world size"},
		{env(EnvRank, "0", EnvWorld, "2"), "MAMBAKIT_COORDINATOR is unset"},
		{env(EnvRank, "0", EnvWorld, "2", EnvCoordinator, "h:1", EnvDistTimeout, "soon"), "MAMBAKIT_DIST_TIMEOUT"},
	} {
		if _, err := FromEnv(c.env, Flags{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("got %v, want %q", err, c.want)
		}
	}
	var none *Job
	if !none.Lead() {
		t.Fatal("a single process leads")
	}
}

func TestDistCheck(t *testing.T) {
	d := &Job{World: 4}
	if err := d.Check(8, false, false); err == nil || !strings.Contains(err.Error(), "needs the cuda device") {
		t.Fatal(err)
	}
	if err := d.Check(8, true, true); err == nil || !strings.Contains(err.Error(), "tbptt") {
		t.Fatal(err)
	}
	if err := d.Check(3, true, false); err == nil || !strings.Contains(err.Error(), "global batch") {
		t.Fatal(err)
	}
	if err := d.Check(4, true, false); err != nil {
		t.Fatal(err)
	}
	var none *Job
	if err := none.Check(1, false, false); err != nil {
		t.Fatal(err)
	}
}

// TestShards checks that the ranks' rows of a batch are disjoint and
// together the 1-GPU batch, in order, for even and uneven splits.
func TestShards(t *testing.T) {
	for _, c := range []struct{ B, world int }{{8, 2}, {8, 4}, {7, 3}, {5, 5}, {16, 1}} {
		b := shardTestBatch(c.B, 33)
		var inputs, targets []int32
		var resets []bool
		rows, count := 0, 0
		for r := 0; r < c.world; r++ {
			lo, hi := shardRows(c.B, r, c.world)
			if hi-lo < c.B/c.world || hi-lo > (c.B+c.world-1)/c.world {
				t.Fatalf("%+v: rank %d has %d rows", c, r, hi-lo)
			}
			if lo != rows {
				t.Fatalf("%+v: rank %d starts at row %d, want %d", c, r, lo, rows)
			}
			var s backbone.Batch
			shard(&s, b, lo, hi)
			if s.B != hi-lo || s.L != b.L || len(s.Inputs) != s.B*s.L {
				t.Fatalf("%+v: shard %+v", c, s)
			}
			inputs, targets, resets = append(inputs, s.Inputs...), append(targets, s.Targets...), append(resets, s.Reset...)
			rows = hi
			count += s.Scored()
		}
		if rows != c.B || !slices.Equal(inputs, b.Inputs) || !slices.Equal(targets, b.Targets) || !slices.Equal(resets, b.Reset) {
			t.Fatalf("%+v: the shards are not the batch", c)
		}
		if count != b.Scored() || count == len(b.Targets) {
			t.Fatalf("%+v: %d targets in shards, %d in the batch of %d positions (some must be masked)", c, count, b.Scored(), len(b.Targets))
		}
	}
}

// shardTestBatch is a batch of B rows of L tokens cut from a stream of
// 20-token documents at row offsets 7·L·r: a target is masked (−1) where
// the next token starts a document, and reset flags mark the starts.
func shardTestBatch(B, L int) *backbone.Batch {
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L), Reset: make([]bool, B*L)}
	for r := 0; r < B; r++ {
		for t := 0; t < L; t++ {
			s := 7*L*r + t
			b.Inputs[r*L+t] = int32(s % 97)
			b.Reset[r*L+t] = s%20 == 0 || t == 0
			b.Targets[r*L+t] = int32((s + 1) % 97)
			if (s+1)%20 == 0 {
				b.Targets[r*L+t] = -1
			}
		}
	}
	return b
}
