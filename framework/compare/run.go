package compare

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/internal/childproc"
)

// Run is one cell of the grid.
type Run struct {
	// Name is the run's path under the comparison's directory,
	// MODALITY/VARIANT[/KEY=VALUE,...]/seed-N: it prefixes the run's
	// progress lines.
	Name     string
	Modality Modality
	Variant  Variant
	Settings []Setting // the axes' values: what the run sets besides modality, variant and seed
	Seed     uint64
	Dir      string
	// Config is the run's whole training configuration, as Spec.Runs built
	// it (train resolves it); zero for a run read from its directory.
	Config train.Config
}

// Options control Execute.
type Options struct {
	Exe  string // the mambakit binary that trains each run
	Jobs int    // runs at once (processes); on cuda, runs at once on each GPU
	// GPUs is how many GPUs a spec on cuda shares its runs over (0: every
	// GPU the driver sees, train.GPUCount).
	GPUs int
	// Log gets compare's lines and every run's output, a line at a time,
	// each prefixed with "[i/n] RUN_NAME: " (train writes a progress line
	// with the loss and the ETA every log_every steps).
	Log io.Writer
}

// wallFile records, in a run's directory, the seconds its processes have
// run in all (an interrupted and resumed run adds both).
const wallFile = "compare-wall-seconds"

// InterruptedError is Execute's error when its context ended before every
// run finished.
type InterruptedError struct {
	// Where says where each run stopped and how many finished.
	Where string
}

func (e *InterruptedError) Error() string { return "interrupted: " + e.Where }

// outcome is what became of one run in Execute.
type outcome struct {
	err      error
	started  bool
	finished bool
	step     int  // where an unfinished run stopped
	saved    bool // it has a checkpoint to resume from
}

// Execute trains every run that is not finished yet, Jobs at a time, each
// in its own `mambakit train` process with the cores shared out evenly,
// then collects the results. A run already at its last step is skipped; a
// run with a checkpoint is resumed from it.
//
// When ctx ends, each running process is sent SIGINT (train saves a
// checkpoint and stops), no further run starts, and the error is an
// *InterruptedError that says where each run stopped; the same call again
// resumes them.
func Execute(ctx context.Context, s *Spec, out string, o Options) ([]Result, error) {
	rs, err := s.Runs(out)
	if err != nil {
		return nil, err
	}
	keys := specKeys(s)
	slots, err := placeSlots(s, o)
	if err != nil {
		return nil, err
	}
	jobs := len(slots)
	threads := max(1, runtime.NumCPU()/jobs)
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	var mu sync.Mutex // guards log and next
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(log, format+"\n", args...)
	}
	outcomes := make([]outcome, len(rs))
	next := 0
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || next == len(rs) { // no run starts once ctx has ended
			return 0, false
		}
		next++
		return next - 1, true
	}
	var wg sync.WaitGroup
	for _, slot := range slots {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				prefix := fmt.Sprintf("[%d/%d] %s: ", i+1, len(rs), rs[i].Name)
				outcomes[i] = runOne(ctx, rs[i], keys, threads, slot, func(f string, a ...any) { logf(prefix+f, a...) })
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, interruptedError(rs, outcomes)
	}
	for i, oc := range outcomes {
		if oc.err != nil {
			return nil, fmt.Errorf("%s: %w", rs[i].Name, oc.err)
		}
	}
	return Collect(rs)
}

// interruptedError says where each run stopped.
func interruptedError(rs []Run, outcomes []outcome) error {
	var parts []string
	done := 0
	for i, oc := range outcomes {
		switch {
		case oc.finished:
			done++
		case oc.err != nil:
			parts = append(parts, fmt.Sprintf("%s failed: %v", rs[i].Name, oc.err))
		case oc.started && oc.saved:
			parts = append(parts, fmt.Sprintf("%s stopped at step %d with a checkpoint", rs[i].Name, oc.step))
		case oc.started:
			parts = append(parts, fmt.Sprintf("%s stopped with no checkpoint yet (it starts again)", rs[i].Name))
		}
	}
	parts = append(parts, fmt.Sprintf("%d of %d runs finished; run the same command again to resume", done, len(rs)))
	return &InterruptedError{strings.Join(parts, "; ")}
}

// specKeys are the settings a spec sets for a run, which a run resumed
// from its directory must have been trained with: the budget's keys but
// steps (a resumed run continues to the spec's), the variant's and the
// seed.
func specKeys(s *Spec) []string {
	keys := []string{"nonselective", "complex", "a_init", "seed"}
	add := func(b map[string]any) {
		for k := range b {
			if k != "steps" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	add(s.Budget)
	for _, m := range s.Modalities {
		add(m.Budget)
	}
	slices.Sort(keys)
	return keys
}

// resolvedFromZero are the settings whose zero value asks train to derive
// them (train.Config.Resolve).
var resolvedFromZero = map[string]bool{"d_model": true, "layers": true, "d_state": true, "schedule_steps": true, "warmup": true, "min_lr": true}

// checkRecorded refuses to resume a run whose directory holds a run
// trained with other settings than the spec now gives it.
func checkRecorded(r Run, keys []string, recorded train.Config) error {
	want, got := reflect.ValueOf(r.Config), reflect.ValueOf(recorded)
	for _, k := range keys {
		ck, ok := lookupKey(k)
		if !ok || resolvedFromZero[k] && want.Field(ck.index).IsZero() { // derived by train when the run began
			continue
		}
		w, g := formatValue(want.Field(ck.index)), formatValue(got.Field(ck.index))
		if w != g {
			return fmt.Errorf("%s holds a run trained with %s %q, the spec now says %q: give another --out, or remove the directory to train the run again", r.Dir, k, g, w)
		}
	}
	return nil
}

// args is the command line, after the mambakit binary, of a run's
// process: a new run reads its configuration from the run directory's
// configFile; a resumed run continues with the configuration it recorded,
// up to the spec's steps.
func (r Run) args(resume bool) []string {
	if resume {
		return []string{"train", "--resume", r.Dir, "--steps", strconv.Itoa(r.Config.Steps)}
	}
	args := []string{"train", "--modality", r.Modality.Name, "--out", r.Dir, "--config", filepath.Join(r.Dir, configFile)}
	for _, d := range r.Modality.Data {
		args = append(args, "--data", d)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Modality.Options)) {
		args = append(args, "--option", k+"="+r.Modality.Options[k])
	}
	return args
}

// configFile is where a new run's configuration is written for its process.
const configFile = "compare.yaml"

// runOne trains r in its own process (or skips it, finished earlier),
// streaming the process's output to logf a line at a time.
func runOne(ctx context.Context, r Run, keys []string, threads int, slot slot, logf func(string, ...any)) outcome {
	r.Config.Threads = threads
	st, err := stateOf(r, keys)
	if err != nil {
		return outcome{err: err}
	}
	if st.finished {
		logf("done earlier (step %d), skipped", st.step)
		return outcome{finished: true}
	}
	resume := st.started // a checkpoint, if only of step 0
	if ctx.Err() != nil {
		return outcome{}
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return outcome{err: err}
	}
	if !resume {
		y, err := yaml.Marshal(r.Config)
		if err != nil {
			return outcome{err: err}
		}
		if err := atomicfile.WriteFile(filepath.Join(r.Dir, configFile), y, 0o644); err != nil {
			return outcome{err: err}
		}
		logf("training")
	} else {
		logf("resuming from step %d", st.step)
	}
	t0 := time.Now()
	last, err := runProcess(ctx, slot.exe, append(r.args(resume), slot.args...), slot.env, logf)
	if werr := addWall(r.Dir, time.Since(t0).Seconds()); werr != nil && err == nil {
		err = werr
	}
	oc := outcome{started: true}
	if info, ierr := train.ReadRunInfo(r.Dir); ierr == nil {
		oc.saved, oc.step = true, info.Step
		oc.finished = info.Step >= r.Config.Steps
	}
	switch {
	case oc.finished:
		logf("finished in %.0fs", time.Since(t0).Seconds())
	case ctx.Err() != nil: // stopped by Execute's SIGINT: not an error
		return oc
	case err != nil:
		oc.err = fmt.Errorf("%v: %s", err, last)
	default: // the process was stopped from outside
		oc.err = fmt.Errorf("its process stopped at step %d of %d (%s); run the command again to resume it", oc.step, r.Config.Steps, last)
	}
	return oc
}

// runProcess runs exe with args in a process group of its own, each line
// of its output (stdout and stderr) to logf, and returns its last line.
// When ctx ends, the process is sent SIGINT once (as Ctrl-C at a terminal
// would) and waited for: train saves a checkpoint and stops. Should this
// process die, the child gets SIGINT too (Linux).
func runProcess(ctx context.Context, exe string, args, env []string, logf func(string, ...any)) (string, error) {
	cmd := exec.Command(exe, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	childproc.OwnGroup(cmd)
	childproc.InterruptWithParent(cmd)
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return "", fmt.Errorf("start %s: %w", exe, err)
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			if cmd.Process.Signal(os.Interrupt) != nil { // no SIGINT here (Windows)
				cmd.Process.Kill()
			}
		case <-stopped:
		}
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last string
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(line) != "" {
			last = line
			logf("%s", line)
		}
	}
	return last, cmd.Wait()
}

// addWall adds seconds to the run's wall time.
func addWall(dir string, seconds float64) error {
	path := filepath.Join(dir, wallFile)
	if b, err := os.ReadFile(path); err == nil {
		if prev, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			seconds += prev
		}
	}
	return atomicfile.WriteFile(path, []byte(strconv.FormatFloat(seconds, 'f', 1, 64)+"\n"), 0o644)
}

// ExecuteOne trains run i of the spec (in Spec.Runs' order) alone, as a
// task of a Slurm array does (compare --only-run): skipped when finished,
// resumed from its checkpoint when started, with threads threads (0: all
// the cores), on the spec's device. When ctx ends, the run saves a checkpoint and the error is
// an *InterruptedError.
func ExecuteOne(ctx context.Context, s *Spec, out string, i, threads int, o Options) error {
	rs, err := s.Runs(out)
	if err != nil {
		return err
	}
	if i < 0 || i >= len(rs) {
		return fmt.Errorf("run %d: the spec has %d runs, 0 to %d", i, len(rs), len(rs)-1)
	}
	if threads < 1 {
		threads = runtime.NumCPU()
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	prefix := fmt.Sprintf("[%d/%d] %s: ", i+1, len(rs), rs[i].Name)
	// On cuda the run takes the first GPU it sees: the task's, which Slurm
	// lists in CUDA_VISIBLE_DEVICES.
	sl := slot{exe: o.Exe, args: deviceArgs(s)}
	oc := runOne(ctx, rs[i], specKeys(s), threads, sl, func(f string, a ...any) { fmt.Fprintf(log, prefix+f+"\n", a...) })
	if ctx.Err() != nil && !oc.finished {
		return interruptedError(rs[i:i+1], []outcome{oc})
	}
	if oc.err != nil {
		return fmt.Errorf("%s: %w", rs[i].Name, oc.err)
	}
	return nil
}
