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
	"errors"
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
	// PlacedBy names the variables that placed the process: MAMBAKIT_RANK,
	// torchrun's RANK or Slurm's SLURM_PROCID.
	PlacedBy          string
	Coordinator       string
	RendezvousTimeout time.Duration
	Timeout           time.Duration // one step's collectives (0: none)
	BucketBytes       int
}

// Lead reports whether this process is rank 0 (or not distributed).
func (d *Job) Lead() bool { return d == nil || d.Rank == 0 }

// FromEnv reads this process's place in a job from its flags and
// environment, in one order of precedence (docs/distributed.md,
// "Environment"); nil means a single process:
//
//  1. MAMBAKIT_RANK set: one rank of a job, placed by the MAMBAKIT_
//     variables (mambakit's own launcher sets them for the ranks it
//     starts, which carry its flags; or they are set by hand).
//  2. f.Launch (train --gpus or --nodes above 1): this process starts its
//     host's ranks itself; the torchrun and Slurm variables are not read.
//  3. torchrun's RANK set: RANK, WORLD_SIZE, LOCAL_RANK, and MASTER_ADDR
//     and MASTER_PORT for the coordinator.
//  4. a Slurm job step (srun; SLURM_STEP_ID set, so not the batch
//     script itself): SLURM_PROCID, SLURM_STEP_NUM_TASKS (or
//     SLURM_NTASKS), SLURM_LOCALID, and the coordinator at the first host
//     of SLURM_STEP_NODELIST (or SLURM_NODELIST), or MASTER_ADDR, on
//     MASTER_PORT or a port from the job id (slurmPort).
//
// A world of one from torchrun or Slurm is a single process. The
// coordinator is, first found: f.Coordinator (--coordinator),
// MAMBAKIT_COORDINATOR, MASTER_ADDR:MASTER_PORT, the Slurm step's first
// host. The timeouts and the bucket size come from the MAMBAKIT_
// variables whatever placed the process.
func FromEnv(getenv func(string) string, f Flags) (*Job, error) {
	var src source
	switch {
	case getenv(EnvRank) != "":
		src = mambakitSource
	case f.Launch:
		return nil, nil
	case getenv("RANK") != "":
		src = torchrunSource
	case getenv("SLURM_STEP_ID") != "" && getenv("SLURM_PROCID") != "":
		src = slurmSource
	default:
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
	d := &Job{PlacedBy: src.rank, RendezvousTimeout: 2 * time.Minute, Timeout: 30 * time.Minute, BucketBytes: 25 << 20}
	var err error
	if d.Rank, err = num(src.rank, 0); err != nil {
		return nil, err
	}
	world := src.world
	if src == slurmSource && getenv(world) == "" {
		world = "SLURM_NTASKS"
	}
	if d.World, err = num(world, 1); err != nil {
		return nil, err
	}
	if d.Rank >= d.World {
		return nil, fmt.Errorf("%s=%d with %s=%d: want rank < world size", src.rank, d.Rank, world, d.World)
	}
	if d.World == 1 && src != mambakitSource {
		return nil, nil
	}
	d.LocalRank = d.Rank
	if getenv(src.local) != "" {
		if d.LocalRank, err = num(src.local, 0); err != nil {
			return nil, err
		}
	}
	if d.Coordinator, err = coordinator(getenv, f.Coordinator, src); err != nil {
		return nil, err
	}
	if d.Coordinator == "" && d.World > 1 {
		if src == torchrunSource {
			return nil, errors.New("RANK is set but MASTER_ADDR or MASTER_PORT is not: the job needs rank 0's address (or give MAMBAKIT_COORDINATOR)")
		}
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
