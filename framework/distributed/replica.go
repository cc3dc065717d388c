package distributed

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudamodel"
	"github.com/mambakit/mambakit/framework/nccl"
)

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
	Forward(b *backbone.Batch, st *cudamodel.State) (float64, error)
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

// Replica runs the forward and backward passes of a GPU model as one
// rank of a job.
type Replica struct {
	model shardModel
	d     *Job
	ctx   context.Context
	sess  *nccl.Session
	comm  collective
	accum int

	buckets []bucket
	next    int // the next bucket to launch this step
	micro   int // micro-batches of this step so far
	stop    bool
	broken  bool // a collective or a peer failed: abort, do not wait
	sub     backbone.Batch
}

// NewReplica joins the job d (rendezvous, then an NCCL communicator) with
// the GPU model g, whose gradients it sums across ranks in buckets during
// the backward pass of each step's last micro-batch (of accum).
func NewReplica(ctx context.Context, d *Job, g *cudamodel.Model, accum int, out io.Writer) (*Replica, error) {
	v, err := nccl.Load()
	if err != nil {
		return nil, err
	}
	sess, err := nccl.Rendezvous(ctx, nccl.RendezvousConfig{Addr: d.Coordinator, Rank: d.Rank, World: d.World, Timeout: d.RendezvousTimeout})
	if err != nil {
		return nil, err
	}
	comm, err := nccl.NewComm(g.Device(), d.Rank, d.World, sess.ID)
	if err != nil {
		sess.Close(false)
		return nil, fmt.Errorf("rank %d: %w", d.Rank, err)
	}
	s := &Replica{model: g, d: d, ctx: ctx, sess: sess, comm: comm, accum: max(accum, 1)}
	s.buckets = makeBuckets(g, g.Config.NumHiddenLayers, d.BucketBytes)
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

func (s *Replica) fail(err error) error {
	if err != nil {
		return fmt.Errorf("rank %d: %w", s.d.Rank, err)
	}
	return nil
}

// ZeroGrad clears the gradients before a step's micro-batches.
func (s *Replica) ZeroGrad() error {
	s.micro = 0
	return s.model.ZeroGrad()
}

// hook launches every bucket whose blocks are final once block l is.
func (s *Replica) hook(l int) error {
	for s.next < len(s.buckets) && s.buckets[s.next].from >= l {
		if err := s.comm.AllReduceAfterDefault(s.buckets[s.next].ranges); err != nil {
			return err
		}
		s.next++
	}
	return nil
}

// ForwardBackward takes the global batch b: this rank trains on its rows.
// The gradients of the step's last micro-batch are summed across ranks
// during Backward; the loss returned is the global batch's.
func (s *Replica) ForwardBackward(b *backbone.Batch) (float64, error) {
	lo, hi := shardRows(b.B, s.d.Rank, s.d.World)
	shard(&s.sub, b, lo, hi)
	total, own := b.Scored(), s.sub.Scored()
	s.micro++
	last := s.micro >= s.accum
	s.model.SetLossDenominator(total)
	if last {
		s.next = 0
		s.model.SetGradHook(s.hook)
	} else {
		s.model.SetGradHook(nil)
	}
	l, err := s.model.Forward(&s.sub, nil)
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

// StopAgreed reports whether any rank was interrupted during the last
// step: every rank then stops after the same step.
func (s *Replica) StopAgreed() bool { return s.stop }

// Close ends the rank's part in the job after the training loop ended (ok:
// without error), and reports whether the model's device memory may be
// released.
func (s *Replica) Close(ok bool) bool {
	if s.broken || !ok {
		// A rank was lost or this one failed: end the collectives now
		// and tell the others; the device is left to the process's exit
		// (kernels of the aborted collectives may still hold it).
		s.comm.Abort()
		s.sess.Close(false)
		return false
	}
	// Every collective has completed (the last sum was waited for): the
	// communicator is released without ncclCommDestroy's flush, which
	// could wait on ranks that are still evaluating or saving.
	s.comm.Abort()
	s.sess.Close(true)
	return true
}
