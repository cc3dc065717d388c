package compare

import (
	"fmt"
	"strings"

	"github.com/mambakit/mambakit/framework/train"
)

// runState is how far a run of a spec has got in its directory.
type runState struct {
	step     int  // the last checkpoint's step (0: none)
	started  bool // it has a checkpoint
	finished bool // at the spec's steps
}

// stateOf reads how far r has got, refusing a directory that holds a run
// trained with other settings than the spec gives it (checkRecorded).
func stateOf(r Run, keys []string) (runState, error) {
	info, err := train.ReadRunInfo(r.Dir)
	if err != nil { // no checkpoint yet: the run starts from the beginning (as runOne does)
		return runState{}, nil
	}
	if err := checkRecorded(r, keys, info.Config); err != nil {
		return runState{}, err
	}
	return runState{step: info.Step, started: true, finished: info.Step >= r.Config.Steps}, nil
}

// Unfinished returns the indices (in Spec.Runs' order) of the runs of s
// under out that are not at the spec's steps yet: those a Slurm array
// still has to train.
func Unfinished(s *Spec, out string) ([]int, error) {
	rs, err := s.Runs(out)
	if err != nil {
		return nil, err
	}
	keys := specKeys(s)
	var idx []int
	for i, r := range rs {
		st, err := stateOf(r, keys)
		if err != nil {
			return nil, err
		}
		if !st.finished {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// CollectFinished reads the results of every run of s under out without
// training any (compare --collect): all must be finished, or the error
// names those that are not.
func CollectFinished(s *Spec, out string) ([]Result, error) {
	rs, err := s.Runs(out)
	if err != nil {
		return nil, err
	}
	keys := specKeys(s)
	var left []string
	for _, r := range rs {
		st, err := stateOf(r, keys)
		if err != nil {
			return nil, err
		}
		switch {
		case st.finished:
		case st.started:
			left = append(left, fmt.Sprintf("%s at step %d of %d", r.Name, st.step, r.Config.Steps))
		default:
			left = append(left, r.Name+" not started")
		}
	}
	if n := len(left); n > 0 {
		more := ""
		if n > 3 {
			more = fmt.Sprintf(" and %d more", len(left)-3)
			left = left[:3]
		}
		return nil, fmt.Errorf("%d of %d runs in %s are not finished (%s%s): train them (compare without --collect, or with --slurm), or report the finished ones with compare RUN_DIR...",
			n, len(rs), out, strings.Join(left, "; "), more)
	}
	return Collect(rs)
}
