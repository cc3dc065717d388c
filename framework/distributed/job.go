// Package distributed runs data-parallel training on several GPUs and
// hosts: one process per GPU, each holding the whole
// model. Every rank draws the same global batch from the same loader (so
// the data order and the checkpoint's data cursor are the 1-GPU run's),
// trains on its own rows of it, and the gradients are summed across GPUs
// by NCCL in buckets while the backward pass goes on. Each rank divides its
// loss by the global batch's target count, so the sum is the gradient of
// the global batch's mean loss: clipping and AdamW then run on identical
// gradients on every rank and the parameters stay identical. Rank 0 alone
// evaluates, samples, writes metrics and checkpoints.
//
// Job is a process's place in a job (from the environment), Replica its
// part of each training step (framework/train calls it), Launch starts
// the processes of a job on one host.
package distributed

import (
	"fmt"
	"strconv"
	"time"
)

// Environment variables that place a process in a job (set by the
// launcher, or by hand on each host; docs/distributed.md).
const (
	EnvRank        = "MAMBAKIT_RANK"        // this process's rank, 0..world−1
	EnvWorld       = "MAMBAKIT_WORLD_SIZE"  // number of processes (GPUs) in the job
	EnvLocalRank   = "MAMBAKIT_LOCAL_RANK"  // the GPU this process uses on its host
	EnvCoordinator = "MAMBAKIT_COORDINATOR" // HOST:PORT where rank 0 listens
	// EnvRendezvousTimeout bounds the wait for every rank to connect
	// (a Go duration; default 2m).
	EnvRendezvousTimeout = "MAMBAKIT_RENDEZVOUS_TIMEOUT"
	// EnvDistTimeout bounds the wait for one step's collectives (default
	// 30m: the others wait while rank 0 evaluates and saves).
	EnvDistTimeout = "MAMBAKIT_DIST_TIMEOUT"
	// EnvBucketMB is the gradient bucket size in MB (default 25).
	EnvBucketMB = "MAMBAKIT_NCCL_BUCKET_MB"
)

// Job is this process's place in a data-parallel job.
type Job struct {
	Rank, World, LocalRank int
	Coordinator            string
	RendezvousTimeout      time.Duration
	Timeout                time.Duration // one step's collectives (0: none)
	BucketBytes            int
}

// Lead reports whether this process is rank 0 (or not distributed).
func (d *Job) Lead() bool { return d == nil || d.Rank == 0 }

// FromEnv reads the job from the environment: nil when MAMBAKIT_RANK
// is unset (a single process).
func FromEnv(getenv func(string) string) (*Job, error) {
	rs := getenv(EnvRank)
	if rs == "" {
		return nil, nil
	}
	num := func(name string, min int) (int, error) {
		v := getenv(name)
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return 0, fmt.Errorf("%s=%q: want an integer ≥ %d", name, v, min)
		}
		return n, nil
	}
	d := &Job{RendezvousTimeout: 2 * time.Minute, Timeout: 30 * time.Minute, BucketBytes: 25 << 20}
	var err error
	if d.Rank, err = num(EnvRank, 0); err != nil {
		return nil, err
	}
	if d.World, err = num(EnvWorld, 1); err != nil {
		return nil, err
	}
	if d.Rank >= d.World {
		return nil, fmt.Errorf("%s=%d with %s=%d: want rank < world size", EnvRank, d.Rank, EnvWorld, d.World)
	}
	d.LocalRank = d.Rank
	if getenv(EnvLocalRank) != "" {
		if d.LocalRank, err = num(EnvLocalRank, 0); err != nil {
			return nil, err
		}
	}
	d.Coordinator = getenv(EnvCoordinator)
	if d.Coordinator == "" && d.World > 1 {
		return nil, fmt.Errorf("%s is unset: the job needs rank 0's HOST:PORT", EnvCoordinator)
	}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{EnvRendezvousTimeout, &d.RendezvousTimeout}, {EnvDistTimeout, &d.Timeout}} {
		if v := getenv(t.name); v != "" {
			if *t.dst, err = time.ParseDuration(v); err != nil || *t.dst < 0 {
				return nil, fmt.Errorf("%s=%q: want a duration such as 90s or 30m", t.name, v)
			}
		}
	}
	if v := getenv(EnvBucketMB); v != "" {
		mb, err := strconv.ParseFloat(v, 64)
		if err != nil || mb <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of MB", EnvBucketMB, v)
		}
		d.BucketBytes = int(mb * (1 << 20))
	}
	return d, nil
}

// GPU is the GPU this process uses on its host (0 when not in a job).
func (d *Job) GPU() int {
	if d == nil {
		return 0
	}
	return d.LocalRank
}

// Check validates a run for the job: on GPUs (gpu), without a state carried
// across steps, and a global batch of at least one row per rank.
func (d *Job) Check(batch int, gpu, tbptt bool) error {
	if d == nil || d.World == 1 {
		return nil
	}
	if !gpu {
		return fmt.Errorf("training on %d GPUs needs the cuda device", d.World)
	}
	if tbptt {
		return fmt.Errorf("training on %d GPUs does not carry the state across steps (tbptt): each GPU trains other rows of the batch", d.World)
	}
	if batch < d.World {
		return fmt.Errorf("batch %d is smaller than the %d GPUs: the batch is the global batch (all GPUs together), so give at least one sequence per GPU", batch, d.World)
	}
	return nil
}
