package train

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudamodel"
	"github.com/mambakit/mambakit/framework/nccl"
)

// Data-parallel training: one process per GPU, each holding the whole
// model. Every rank draws the same global batch from the same loader (so
// the data order and the checkpoint's data cursor are the 1-GPU run's),
// trains on its own rows of it, and the gradients are summed across GPUs
// by NCCL in buckets while the backward pass goes on. Each rank divides its
// loss by the global batch's target count, so the sum is the gradient of
// the global batch's mean loss: clipping and AdamW then run on identical
// gradients on every rank and the parameters stay identical. Rank 0 alone
// evaluates, samples, writes metrics and checkpoints.

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
	// 30m: rank 0's evaluation runs on the CPU while the others wait).
	EnvDistTimeout = "MAMBAKIT_DIST_TIMEOUT"
	// EnvBucketMB is the gradient bucket size in MB (default 25).
	EnvBucketMB = "MAMBAKIT_NCCL_BUCKET_MB"
)

// Dist is this process's place in a data-parallel job.
type Dist struct {
	Rank, World, LocalRank int
	Coordinator            string
	RendezvousTimeout      time.Duration
	Timeout                time.Duration // one step's collectives (0: none)
	BucketBytes            int
}

// Lead reports whether this process is rank 0 (or not distributed).
func (d *Dist) Lead() bool { return d == nil || d.Rank == 0 }

// DistFromEnv reads the job from the environment: nil when MAMBAKIT_RANK
// is unset (a single process).
func DistFromEnv(getenv func(string) string) (*Dist, error) {
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
	d := &Dist{RendezvousTimeout: 2 * time.Minute, Timeout: 30 * time.Minute, BucketBytes: 25 << 20}
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

func (d *Dist) localRank() int {
	if d == nil {
		return 0
	}
	return d.LocalRank
}

// check validates a run for the job: the GPU path and a global batch of at
// least one row per rank.
func (d *Dist) check(c Config, device string) error {
	if d == nil || d.World == 1 {
		return nil
	}
	if device != "cuda" {
		return fmt.Errorf("training on %d GPUs needs --device cuda", d.World)
	}
	if c.Batch < d.World {
		return fmt.Errorf("batch %d is smaller than the %d GPUs: --batch is the global batch (all GPUs together), so give at least one sequence per GPU", c.Batch, d.World)
	}
	return nil
}

// shardRows returns rank's rows [lo, hi) of a global batch of B rows:
// contiguous, disjoint, together all B, sizes differing by at most one.
func shardRows(B, rank, world int) (lo, hi int) {
	return B * rank / world, B * (rank + 1) / world
}

// shard points dst at rows [lo, hi) of b (no copy).
func shard(dst, b *backbone.Batch, lo, hi int) {
	L := b.L
	*dst = backbone.Batch{B: hi - lo, L: L, Inputs: b.Inputs[lo*L : hi*L]}
	if b.Targets != nil {
		dst.Targets = b.Targets[lo*L : hi*L]
	}
	if b.Reset != nil {
		dst.Reset = b.Reset[lo*L : hi*L]
	}
}

// countTargets is the number of scored positions (target ≥ 0).
func countTargets(t []int32) int {
	n := 0
	for _, v := range t {
		if v >= 0 {
			n++
		}
	}
	return n
}

// bucket is a set of gradient spans summed together, launched when the
// backward pass has finished block from (−1: at its end).
type bucket struct {
	from   int
	ranges []nccl.Range
	bytes  int
}

// makeBuckets groups the blocks, last first (the order the backward pass
// finishes them), into buckets of about target bytes; the embedding and
// norm_f make the last bucket.
func makeBuckets(g *cudamodel.Model, layers, target int) []bucket {
	var out []bucket
	rng := func(spans []cudamodel.GradSpan) ([]nccl.Range, int) {
		var r []nccl.Range
		n := 0
		for _, s := range spans {
			r = append(r, nccl.Range{Ptr: uint64(g.GradPtr(s.Lo)), N: s.Hi - s.Lo})
			n += 4 * (s.Hi - s.Lo)
		}
		return r, n
	}
	hi := layers
	for l := layers - 1; l >= 0; l-- {
		r, n := rng(g.BlockGradSpans(l, hi))
		if n >= target || l == 0 {
			out = append(out, bucket{from: l, ranges: r, bytes: n})
			hi = l
		}
	}
	r, n := rng(g.SharedGradSpans())
	return append(out, bucket{from: -1, ranges: r, bytes: n})
}

// shardModel is what a rank needs of its model (*cudamodel.Model).
type shardModel interface {
	Forward(b *backbone.Batch) (float64, error)
	Backward() error
	ZeroGrad() error
	SetLossDenominator(n int)
	SetGradHook(f func(layer int) error)
}

// collective is what a rank needs of its communicator (*nccl.Comm).
type collective interface {
	AllReduceAfterDefault(ranges []nccl.Range) error
	SumFloat64(vals []float64, alive func() error, timeout time.Duration) ([]float64, error)
	Abort()
}

// distStepper runs a cudaStepper as one rank of a job.
type distStepper struct {
	*cudaStepper // nil in tests
	model        shardModel
	d            *Dist
	ctx          context.Context
	sess         *nccl.Session
	comm         collective
	accum        int

	buckets []bucket
	next    int // the next bucket to launch this step
	micro   int // micro-batches of this step so far
	stop    bool
	broken  bool // a collective or a peer failed: abort, do not wait
	ok      bool // the loop ended without error
	sub     backbone.Batch
}

func newDistStepper(ctx context.Context, d *Dist, cs *cudaStepper, accum int, out io.Writer) (*distStepper, error) {
	v, err := nccl.Load()
	if err != nil {
		return nil, err
	}
	sess, err := nccl.Rendezvous(ctx, nccl.RendezvousConfig{Addr: d.Coordinator, Rank: d.Rank, World: d.World, Timeout: d.RendezvousTimeout})
	if err != nil {
		return nil, err
	}
	comm, err := nccl.NewComm(cs.dev, d.Rank, d.World, sess.ID)
	if err != nil {
		sess.Close(false)
		return nil, fmt.Errorf("rank %d: %w", d.Rank, err)
	}
	s := &distStepper{cudaStepper: cs, model: cs.g, d: d, ctx: ctx, sess: sess, comm: comm, accum: max(accum, 1)}
	s.buckets = makeBuckets(cs.g, cs.m.Config.NumHiddenLayers, d.BucketBytes)
	if d.Lead() && out != nil {
		total := 0
		for _, b := range s.buckets {
			total += b.bytes
		}
		fmt.Fprintf(out, "data-parallel: %d GPUs (this is rank 0, GPU %d), NCCL %s from %s; gradients %.1f MB in %d buckets summed during the backward pass\n",
			d.World, d.LocalRank, nccl.VersionString(v), nccl.LibraryPath(), float64(total)/(1<<20), len(s.buckets))
	}
	return s, nil
}

func (s *distStepper) fail(err error) error {
	if err != nil {
		return fmt.Errorf("rank %d: %w", s.d.Rank, err)
	}
	return nil
}

func (s *distStepper) zeroGrad() error {
	s.micro = 0
	return s.model.ZeroGrad()
}

// hook launches every bucket whose blocks are final once block l is.
func (s *distStepper) hook(l int) error {
	for s.next < len(s.buckets) && s.buckets[s.next].from >= l {
		if err := s.comm.AllReduceAfterDefault(s.buckets[s.next].ranges); err != nil {
			return err
		}
		s.next++
	}
	return nil
}

// forwardBackward takes the global batch b: this rank trains on its rows.
// The gradients of the step's last micro-batch are summed across ranks
// during Backward; the loss returned is the global batch's.
func (s *distStepper) forwardBackward(b *backbone.Batch) (float64, error) {
	lo, hi := shardRows(b.B, s.d.Rank, s.d.World)
	shard(&s.sub, b, lo, hi)
	total, own := countTargets(b.Targets), countTargets(s.sub.Targets)
	s.micro++
	last := s.micro >= s.accum
	s.model.SetLossDenominator(total)
	if last {
		s.next = 0
		s.model.SetGradHook(s.hook)
	} else {
		s.model.SetGradHook(nil)
	}
	l, err := s.model.Forward(&s.sub)
	if err != nil {
		return 0, s.fail(err)
	}
	if err := s.model.Backward(); err != nil {
		return 0, s.fail(err)
	}
	stop := 0.0
	if last {
		if err := s.hook(-1); err != nil { // whatever Backward did not launch (no targets anywhere)
			return 0, s.fail(err)
		}
		if s.ctx.Err() != nil {
			stop = 1
		}
	}
	sums, err := s.comm.SumFloat64([]float64{l * float64(own), stop}, s.sess.Err, s.d.Timeout)
	if err != nil {
		s.broken = true
		return 0, fmt.Errorf("rank %d: %w; stopping (rank 0 keeps the last checkpoint)", s.d.Rank, err)
	}
	if sums[1] > 0 {
		s.stop = true
	}
	if total == 0 {
		return 0, nil
	}
	return sums[0] / float64(total), nil
}

// stopAgreed reports whether any rank was interrupted during the last
// step: every rank then stops after the same step.
func (s *distStepper) stopAgreed() bool { return s.stop }

func (s *distStepper) close() {
	if s.broken || !s.ok {
		// A rank was lost or this one failed: end the collectives now
		// and tell the others; the device is left to the process's exit
		// (kernels of the aborted collectives may still hold it).
		s.comm.Abort()
		s.sess.Close(false)
		return
	}
	// Every collective has completed (the last sum was waited for): the
	// communicator is released without ncclCommDestroy's flush, which
	// could wait on ranks that are still evaluating or saving.
	s.comm.Abort()
	s.sess.Close(true)
	if s.cudaStepper != nil {
		s.cudaStepper.close()
	}
}
