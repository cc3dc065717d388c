package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/mambakit/mambakit/framework/distributed"
	"github.com/mambakit/mambakit/framework/train"
)

// Data-parallel training (docs/distributed.md): "train --device cuda
// --gpus N" starts N copies of this command, one per GPU, with their rank
// in the environment; with --nodes M each host runs its --gpus copies as
// host --rank R of M, rank 0 on host 0 listening on --coordinator.

// gpuJob is the job flags and, in a rank, its place in the job.
type gpuJob struct {
	gpus, nodes, node int
	coordinator       string
	dist              *distributed.Job // set when this process is a rank
	args              []string         // the train command's arguments, for the ranks
}

func (j *gpuJob) register(fs *pflag.FlagSet) {
	fs.IntVar(&j.gpus, "gpus", 1, "with --device cuda: GPUs of this host to train on, one process each (data-parallel; docs/distributed.md)")
	fs.IntVar(&j.nodes, "nodes", 1, "hosts in a multi-host job (each runs the same command with its own --rank)")
	fs.IntVar(&j.node, "rank", 0, "this host's index among --nodes (host 0 runs rank 0 and the coordinator)")
	fs.StringVar(&j.coordinator, "coordinator", "", "HOST:PORT of host 0's rendezvous (needed with --nodes > 1; one host: a free localhost port)")
}

// setup reads the process's place from the flags and the environment
// (mambakit's, torchrun's or Slurm's: distributed.FromEnv) and checks the
// flags against the device.
func (j *gpuJob) setup(args []string, device train.Device) error {
	d, err := distributed.FromEnv(os.Getenv, distributed.Flags{Launch: j.gpus > 1 || j.nodes > 1, Coordinator: j.coordinator})
	if err != nil {
		return err
	}
	j.dist, j.args = d, args
	if (j.gpus > 1 || j.nodes > 1) && device != train.CUDA {
		return errors.New("--gpus and --nodes need --device cuda")
	}
	if d == nil {
		l := j.launch(nil, nil)
		return l.Validate()
	}
	if d.World > 1 && device != train.CUDA { // before the data is prepared
		return fmt.Errorf("rank %d of a job of %d (%s is set): training on %d GPUs needs --device cuda", d.Rank, d.World, d.PlacedBy, d.World)
	}
	return nil
}

// launching reports whether this process starts the ranks (rather than
// being one, or training alone).
func (j *gpuJob) launching() bool { return j.dist == nil && (j.gpus > 1 || j.nodes > 1) }

// lead reports whether this process writes the run's output.
func (j *gpuJob) lead() bool { return j.dist.Lead() }

func (j *gpuJob) launch(extra []string, stdout io.Writer) *distributed.Launch {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	args := append(append([]string{"train"}, j.args...), extra...)
	return &distributed.Launch{Exe: exe, Args: args, Env: os.Environ(), GPUs: j.gpus, Nodes: j.nodes, NodeRank: j.node,
		Addr: j.coordinator, Stdout: stdout, Stderr: os.Stderr}
}

// run starts this host's ranks with extra arguments and waits for them.
func (j *gpuJob) run(ctx context.Context, extra []string, stdout io.Writer) error {
	l := j.launch(extra, stdout)
	if err := l.Validate(); err != nil {
		return err
	}
	first := j.node * j.gpus
	fmt.Fprintf(stdout, "starting %d processes (ranks %d–%d of %d, GPUs 0–%d of this host)\n", j.gpus, first, first+j.gpus-1, j.nodes*j.gpus, j.gpus-1)
	return l.Run(ctx)
}

// fitBaseline fits the Markov baseline in the process that draws the
// curves (rank 0, or the only process).
func fitBaseline(ctx context.Context, r *train.Run, dev trainDevice, stdout io.Writer) error {
	if !dev.job.lead() {
		return nil
	}
	return r.FitBaseline(ctx, stdout)
}
