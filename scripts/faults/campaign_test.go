//go:build faults && linux

// Package faults is the fault campaign of issue 17: it builds mambakit,
// runs it as the most careful users would break it (hostile inputs,
// corrupt checkpoints, kill -9 at random moments, killed plugins, a full
// disk, two writers on one run directory, a plugin swapped under its pin,
// Ctrl-C and SIGTERM) and checks every outcome: the exit status, the one
// line of error, the files left, the weights bit for bit against an
// uninterrupted run. It ends with a table of tried / held / failed cases
// per class. docs/reliability.md says how to run it and holds a table.
//
//	scripts/faults.sh [-test.run TestSignals] [-faults.seed N] [-test.v]
//
// (go test -tags faults ./scripts/faults runs it too, but shows the table
// only when a case fails.) The build tag keeps it out of "go test ./...";
// .ci/run vets it. Linux only: it reads /proc, and mounts a tmpfs as root.
package faults

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	seedFlag = flag.Uint64("faults.seed", 0, "seed of the random kill and signal moments (0: from the clock; the table prints it)")
	binFlag  = flag.String("faults.bin", "", "the mambakit binary to break (default: go build ./cmd/mambakit into a temporary directory)")
)

var (
	root   string // the repository
	tmp    string // everything the campaign writes: binaries, runs, fixtures
	bin    string // the mambakit binary under test
	seed   uint64
	rngMu  sync.Mutex
	rng    *rand.Rand
	tstart time.Time
)

// The case classes, in the table's order.
const (
	classInputs     = "hostile inputs"
	classCheckpoint = "corrupt checkpoints"
	classKill       = "kill -9 and resume"
	classPluginKill = "plugin kills"
	classTrust      = "plugin trust"
	classDisk       = "disk full"
	classWriters    = "concurrent writers"
	classSignals    = "Ctrl-C and SIGTERM"
)

var classes = []string{classInputs, classCheckpoint, classKill, classPluginKill, classTrust, classDisk, classWriters, classSignals}

type tally struct{ tried, held, failed, skipped int }

var (
	tallyMu sync.Mutex
	tallies = map[string]*tally{}
	skips   = map[string]int{} // why cases were skipped, and how many
)

// skip skips the case, saying why below the table.
func skip(t *testing.T, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	tallyMu.Lock()
	skips[why]++
	tallyMu.Unlock()
	t.Skip(why)
}

// try runs one case of a class as a subtest and counts how it ended: held
// (every check passed), failed, or skipped (with a line saying why).
func try(t *testing.T, class, name string, f func(t *testing.T)) {
	t.Helper()
	var skipped bool
	ok := t.Run(name, func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		f(t)
	})
	tallyMu.Lock()
	defer tallyMu.Unlock()
	c := tallies[class]
	if c == nil {
		c = &tally{}
		tallies[class] = c
	}
	switch {
	case skipped:
		c.skipped++
	case ok:
		c.tried++
		c.held++
	default:
		c.tried++
		c.failed++
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	tstart = time.Now()
	seed = *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng = rand.New(rand.NewPCG(seed, 17))
	code := func() int {
		var err error
		if root, err = filepath.Abs("../.."); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if tmp, err = os.MkdirTemp("", "mambakit-faults-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "bin", "mambakit")
		if *binFlag != "" {
			b, err := os.ReadFile(*binFlag)
			if err == nil {
				os.Mkdir(filepath.Dir(bin), 0o755)
				err = os.WriteFile(bin, b, 0o755) // the campaign recognises its processes by this directory
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "faults:", err)
				return 1
			}
		} else {
			build := exec.Command("go", "build", "-o", bin, "./cmd/mambakit")
			build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if err := build.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "faults: go build ./cmd/mambakit:", err)
				return 1
			}
		}
		code := m.Run()
		unmountAll()
		printTable()
		return code
	}()
	os.Exit(code)
}

func printTable() {
	fmt.Printf("\nfault campaign: seed %d, %s, %d CPUs, %s/%s, %s, %s\n",
		seed, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Since(tstart).Round(time.Second))
	fmt.Printf("| %-20s | %5s | %4s | %6s | %7s |\n", "class", "tried", "held", "failed", "skipped")
	fmt.Printf("| %s | ----: | ---: | -----: | ------: |\n", strings.Repeat("-", 20))
	var sum tally
	for _, name := range classes {
		c := tallies[name]
		if c == nil {
			continue
		}
		fmt.Printf("| %-20s | %5d | %4d | %6d | %7d |\n", name, c.tried, c.held, c.failed, c.skipped)
		sum.tried, sum.held, sum.failed, sum.skipped = sum.tried+c.tried, sum.held+c.held, sum.failed+c.failed, sum.skipped+c.skipped
	}
	fmt.Printf("| %-20s | %5d | %4d | %6d | %7d |\n", "total", sum.tried, sum.held, sum.failed, sum.skipped)
	for why, n := range skips {
		fmt.Printf("skipped %d: %s\n", n, why)
	}
}

// random returns a uniform duration in [lo, hi) from the campaign's seed.
func random(lo, hi time.Duration) time.Duration {
	rngMu.Lock()
	defer rngMu.Unlock()
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// randInt returns a uniform int in [0, n) from the campaign's seed.
func randInt(n int) int {
	rngMu.Lock()
	defer rngMu.Unlock()
	return rng.IntN(n)
}

func coin() bool {
	rngMu.Lock()
	defer rngMu.Unlock()
	return rng.IntN(2) == 0
}

// dir makes a fresh directory under the campaign's temp directory.
func dir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp(tmp, strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// result is how one mambakit command ended.
type result struct {
	args           []string
	code           int // exit status; -1 when ended by a signal
	signal         syscall.Signal
	stdout, stderr string
	elapsed        time.Duration
	timedOut       bool
	maxRSSMB       int64
}

func (r result) String() string {
	s := fmt.Sprintf("mambakit %s: exit %d", strings.Join(r.args, " "), r.code)
	if r.timedOut {
		s += " (killed: it ran past its time limit)"
	}
	return s + fmt.Sprintf(" after %v\nstdout:\n%s\nstderr:\n%s", r.elapsed.Round(time.Millisecond), tail(r.stdout), tail(r.stderr))
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// proc is a mambakit command running in the background.
type proc struct {
	cmd            *exec.Cmd
	args           []string
	stdout, stderr lockedBuffer
	start          time.Time
	done           chan struct{}
	res            result
}

// env is the environment of every command: no plugin path of the caller's.
func env(extra []string) []string {
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAMBAKIT_") {
			e = append(e, kv)
		}
	}
	return append(e, extra...)
}

// start runs mambakit args in cwd; limit kills it (a hang is a failure).
func start(t *testing.T, cwd string, extraEnv []string, limit time.Duration, args ...string) *proc {
	t.Helper()
	p := &proc{args: args, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir, p.cmd.Env = cwd, env(extraEnv)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() {
		p.res.timedOut = true
		p.cmd.Process.Kill()
	})
	go func() {
		defer close(p.done)
		p.cmd.Wait()
		timer.Stop()
		p.res.elapsed = time.Since(p.start)
		p.res.args = args
		p.res.stdout, p.res.stderr = p.stdout.String(), p.stderr.String()
		st := p.cmd.ProcessState
		p.res.code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.res.signal = ws.Signal()
		}
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			p.res.maxRSSMB = ru.Maxrss >> 10
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) wait() result {
	<-p.done
	return p.res
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// mk runs mambakit args in cwd to its end.
func mk(t *testing.T, cwd string, args ...string) result {
	t.Helper()
	return start(t, cwd, nil, 60*time.Second, args...).wait()
}

// mkEnv is mk with extra environment variables.
func mkEnv(t *testing.T, cwd string, extraEnv []string, args ...string) result {
	t.Helper()
	return start(t, cwd, extraEnv, 60*time.Second, args...).wait()
}

// ok fails the case unless r exited 0.
func ok(t *testing.T, r result) {
	t.Helper()
	if r.timedOut || r.code != 0 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("want success: %v", r)
	}
}

// refused fails the case unless r is a clean refusal: exit status 1
// within its time limit, and one line on stderr, "mambakit CMD: ...",
// holding every string of want; no panic.
func refused(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.timedOut {
		t.Fatalf("hung: %v", r)
	}
	line := strings.TrimRight(r.stderr, "\n")
	prefix := "mambakit " + r.args[0] + ": "
	switch {
	case r.code != 1:
		t.Errorf("exit status %d, want 1", r.code)
	case strings.Contains(line, "\n"):
		t.Errorf("%d lines on stderr, want one", strings.Count(line, "\n")+1)
	case !strings.HasPrefix(line, prefix):
		t.Errorf("stderr does not start with %q", prefix)
	case strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine "):
		t.Errorf("a panic")
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("the error does not say %q", w)
		}
	}
	if t.Failed() {
		t.Fatalf("want a one-line refusal: %v", r)
	}
}

// lockedBuffer is a bytes.Buffer a child process writes while the
// campaign reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond every 2 ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); ; time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// children returns the PIDs of pid's live child processes.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := procStat(c)
		if ok && ppid == pid && state != "Z" {
			out = append(out, c)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc/PID/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// pluginOf waits up to limit for pid's built-in plugin process
// ("mambakit __plugin NAME") to appear and returns its PID (0 if none
// appeared). Other children are not plugins: Go's os package forks a
// child that exits at once to learn whether pidfds work.
func pluginOf(pid int, limit time.Duration) int {
	var found int
	waitFor(limit, func() bool {
		for _, c := range children(pid) {
			cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			if bytes.Contains(cl, []byte("\x00__plugin\x00")) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// ours lists the live processes started from the campaign's directory
// (mambakit hosts, plugins, external plugins), but not the campaign itself.
func ours() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, state, ok := procStat(pid); !ok || state == "Z" {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cl, []byte(tmp)) {
			out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cl), "\x00", " ")))
		}
	}
	sort.Strings(out)
	return out
}

// noLeftovers fails the case if a process the case started (a host or a
// plugin) is still running 3 s after its host ended.
func noLeftovers(t *testing.T) {
	t.Helper()
	var left []string
	if !waitFor(3*time.Second, func() bool { left = ours(); return len(left) == 0 }) {
		t.Fatalf("still running after their command ended:\n%s", strings.Join(left, "\n"))
	}
}

// withTimeout runs f, failing the case if it takes longer than limit.
func withTimeout(t *testing.T, limit time.Duration, f func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	f(ctx)
	if ctx.Err() != nil {
		t.Fatalf("took longer than %v", limit)
	}
}
