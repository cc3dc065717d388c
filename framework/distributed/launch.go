package distributed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mambakit/mambakit/internal/childproc"
)

// Launch describes the processes of a data-parallel job on this host: one
// per GPU, each the same program with the same arguments and its place in
// the job in its environment (EnvRank, EnvWorld, EnvLocalRank,
// EnvCoordinator).
type Launch struct {
	Exe  string   // the program (os.Executable())
	Args []string // its arguments (without the program's name)
	Env  []string // the base environment (os.Environ())

	GPUs     int    // processes on this host, one per GPU
	Nodes    int    // hosts in the job (default 1)
	NodeRank int    // this host's index, 0..Nodes−1; node 0 runs rank 0
	Addr     string // rank 0's HOST:PORT (one host: default a free localhost port)

	Stdout, Stderr io.Writer // rank 0's output; the others' lines go to Stderr as "[rank N] ..."
	// Grace is how long the other ranks get to stop after one failed,
	// before they are killed (default 10s).
	Grace time.Duration
}

// Validate checks the shape of the job.
func (l *Launch) Validate() error {
	if l.Nodes == 0 {
		l.Nodes = 1
	}
	switch {
	case l.GPUs < 1:
		return fmt.Errorf("gpus %d: want at least 1", l.GPUs)
	case l.Nodes < 1:
		return fmt.Errorf("nodes %d: want at least 1", l.Nodes)
	case l.NodeRank < 0 || l.NodeRank >= l.Nodes:
		return fmt.Errorf("node rank %d with %d nodes: want 0 ≤ rank < nodes", l.NodeRank, l.Nodes)
	case l.Nodes > 1 && l.Addr == "":
		return errors.New("more than one node needs a coordinator HOST:PORT (node 0's address, reachable from every host)")
	}
	if l.Addr != "" {
		if _, port, err := net.SplitHostPort(l.Addr); err != nil || port == "" || port == "0" {
			return fmt.Errorf("coordinator %q: want HOST:PORT with a fixed port", l.Addr)
		}
	}
	return nil
}

// freePort returns a localhost address with a port nothing listens on now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port for the rendezvous: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ExitError is Launch's error when a rank failed: which one, and how.
type ExitError struct {
	Rank, GPU int
	Err       error // the *exec.ExitError or start error
	Stopped   int   // other ranks that were still running and were stopped
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("rank %d (GPU %d) failed: %v", e.Rank, e.GPU, e.Err)
	if e.Stopped > 0 {
		s += fmt.Sprintf("; stopped the other %d rank(s) on this host", e.Stopped)
	}
	return s
}

func (e *ExitError) Unwrap() error { return e.Err }

// Run starts the ranks of this host and waits for them. If one fails, the
// others are interrupted (SIGINT, as Ctrl-C), then killed after Grace, and
// the error names the failed rank; rank 0 has written every checkpoint, so
// the last one stays intact. When ctx ends (Ctrl-C), the ranks get SIGINT
// and stop together after their current step, rank 0 saving.
func (l *Launch) Run(ctx context.Context) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if l.Grace == 0 {
		l.Grace = 10 * time.Second
	}
	if l.Addr == "" {
		var err error
		if l.Addr, err = freePort(); err != nil {
			return err
		}
	}
	world := l.Nodes * l.GPUs
	type proc struct {
		rank, gpu int
		cmd       *exec.Cmd
		done      chan struct{}
		err       error
	}
	var procs []*proc
	var pipes sync.WaitGroup
	exited := make(chan *proc, l.GPUs)
	var stderrMu sync.Mutex
	for i := 0; i < l.GPUs; i++ {
		p := &proc{rank: l.NodeRank*l.GPUs + i, gpu: i, done: make(chan struct{})}
		cmd := exec.Command(l.Exe, l.Args...)
		cmd.WaitDelay = 5 * time.Second // a plugin process that holds the output pipe open
		// A launcher killed with kill -9 takes its ranks with it: left
		// running, they would hold their GPUs and wait on NCCL for ever.
		childproc.DieWithParent(cmd)
		cmd.Env = append(withoutJobVars(l.Env),
			EnvRank+"="+strconv.Itoa(p.rank), EnvWorld+"="+strconv.Itoa(world),
			EnvLocalRank+"="+strconv.Itoa(i), EnvCoordinator+"="+l.Addr,
			// NVLink multicast stays off in every rank, whatever the caller's
			// environment says (framework/nccl sets it again before init).
			"NCCL_NVLS_ENABLE=0", "NVSHMEM_DISABLE_NVLS=1", "TORCH_SYMM_MEM_DISABLE_MULTICAST=1")
		if p.rank == 0 {
			cmd.Stdout, cmd.Stderr = l.Stdout, l.Stderr
		} else {
			pr, pw := io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			pipes.Add(1)
			go func(rank int) {
				defer pipes.Done()
				sc := bufio.NewScanner(pr)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					stderrMu.Lock()
					fmt.Fprintf(l.Stderr, "[rank %d] %s\n", rank, sc.Text())
					stderrMu.Unlock()
				}
				io.Copy(io.Discard, pr)
			}(p.rank)
			defer pw.Close()
		}
		p.cmd = cmd
		procs = append(procs, p)
	}
	started := 0
	var startErr *ExitError
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			startErr = &ExitError{Rank: p.rank, GPU: p.gpu, Err: err}
			break
		}
		started++
		go func() {
			p.err = p.cmd.Wait()
			if w, ok := p.cmd.Stdout.(*io.PipeWriter); ok {
				w.Close()
			}
			close(p.done)
			exited <- p
		}()
	}
	signalAll := func(sig os.Signal) {
		for _, p := range procs[:started] {
			select {
			case <-p.done:
			default:
				p.cmd.Process.Signal(sig)
			}
		}
	}
	var first *ExitError
	if startErr != nil {
		first = startErr
		signalAll(os.Interrupt)
	}
	interrupted := false
	var kill <-chan time.Time
	for running := started; running > 0; {
		select {
		case p := <-exited:
			running--
			if p.err != nil && first == nil && !interrupted {
				first = &ExitError{Rank: p.rank, GPU: p.gpu, Err: p.err, Stopped: running}
				signalAll(os.Interrupt)
				kill = time.After(l.Grace)
			}
		case <-ctx.Done():
			if !interrupted {
				interrupted = true
				signalAll(os.Interrupt)
			}
			ctx = context.Background() // once
		case <-kill:
			signalAll(syscall.SIGKILL)
			kill = nil
		}
	}
	pipes.Wait()
	if first != nil {
		return first
	}
	if interrupted {
		for _, p := range procs {
			if p.err != nil {
				return &ExitError{Rank: p.rank, GPU: p.gpu, Err: p.err}
			}
		}
	}
	return nil
}

// withoutJobVars drops the job's variables from an environment, so that a
// launcher started inside a rank's environment does not pass them on.
func withoutJobVars(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvRank, EnvWorld, EnvLocalRank, EnvCoordinator, "NCCL_NVLS_ENABLE":
			continue
		}
		out = append(out, kv)
	}
	return out
}
