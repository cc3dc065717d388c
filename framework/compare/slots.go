package compare

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/framework/train"
)

// slot is where one of Execute's workers trains its runs, one after
// another: a process of exe with args added to each run's command line
// and env added to its environment.
type slot struct {
	exe  string
	args []string // --device cuda [--tf32]
	env  []string // CUDA_VISIBLE_DEVICES=G: the run's GPU
}

// placeSlots lists Execute's workers: Jobs on the CPU, or Jobs on each
// GPU for a spec on cuda, each worker held to its GPU by
// CUDA_VISIBLE_DEVICES (one of the parent's own visible devices when it
// has such a list).
func placeSlots(s *Spec, o Options) ([]slot, error) {
	jobs := max(1, o.Jobs)
	if s.Device != train.CUDA {
		return slices.Repeat([]slot{{exe: o.Exe}}, jobs), nil
	}
	n := o.GPUs
	if n <= 0 {
		var err error
		if n, err = train.GPUCount(); err != nil {
			return nil, fmt.Errorf("device: %w", err)
		}
		if n == 0 {
			return nil, errors.New("device: cuda: the driver sees no GPU")
		}
	}
	visible := strings.Split(os.Getenv("CUDA_VISIBLE_DEVICES"), ",")
	if len(visible) < n || visible[0] == "" {
		visible = nil
	}
	args := deviceArgs(s)
	var slots []slot
	for range jobs {
		for g := range n {
			dev := strconv.Itoa(g)
			if visible != nil {
				dev = strings.TrimSpace(visible[g])
			}
			slots = append(slots, slot{exe: o.Exe, args: args, env: []string{"CUDA_VISIBLE_DEVICES=" + dev}})
		}
	}
	return slots, nil
}

// deviceArgs are train's flags for the spec's device: --device cuda
// [--tf32] on cuda, none on the CPU.
func deviceArgs(s *Spec) []string {
	if s.Device != train.CUDA {
		return nil
	}
	args := []string{"--device", string(train.CUDA)}
	if s.TF32 {
		args = append(args, "--tf32")
	}
	return args
}
