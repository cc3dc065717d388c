package cudamodel

import "github.com/mambakit/mambakit/framework/cuda"

// Hooks for data-parallel training (framework/train with several GPUs):
// Backward tells a hook as soon as a block's gradients are final, so their
// sum across GPUs can start while the earlier blocks are still being
// differentiated, and the loss may be divided by the whole job's target
// count instead of this GPU's share.

// SetGradHook sets f (nil: none) to be called during Backward with l after
// block l's parameter gradients are final (l = layers−1 down to 0), then
// with −1 after the embedding's and norm_f's, the last ones. The work
// Backward issued so far is on the device's default stream; f may enqueue
// work on another stream after it. An error from f ends Backward.
func (g *Model) SetGradHook(f func(layer int) error) { g.gradHook = f }

// SetLossDenominator makes Backward differentiate the sum of the batch's
// target losses divided by n instead of their mean (n = 0: the mean, the
// default). With n the number of targets over all GPUs' shards, the
// gradients summed across GPUs are those of the whole batch's mean loss.
// With n > 0 Backward runs even when this shard has no targets (its
// gradients are then zero), so every GPU reaches the same hooks.
func (g *Model) SetLossDenominator(n int) { g.lossDenom = n }

func (g *Model) denominator(count int) int {
	if g.lossDenom > 0 {
		return g.lossDenom
	}
	return count
}

func (e *errs) hook(f func(int) error, l int) {
	if f != nil && e.err == nil {
		e.err = f(l)
	}
}

// GradSpan is a run of gradient elements: [Lo, Hi) of backbone.Params'
// flat layout.
type GradSpan struct{ Lo, Hi int }

// BlockGradSpans returns the spans holding the gradients of blocks
// [from, to): one per parameter field (each field stores its layers one
// after the other, so consecutive blocks are contiguous within it).
func (g *Model) BlockGradSpans(from, to int) []GradSpan { return g.lay.blockSpans(from, to) }

// SharedGradSpans returns the spans of the parameters outside the blocks
// (the embedding and norm_f), whose gradients are final only at the end.
func (g *Model) SharedGradSpans() []GradSpan { return g.lay.sharedSpans() }

// GradPtr is the device address of gradient element i.
func (g *Model) GradPtr(i int) cuda.DevPtr { return g.grads.At(i) }

func (l *layout) blockFields() []field {
	return []field{l.norm, l.inProj, l.convW, l.convB, l.xProj, l.dtW, l.dtB, l.aLog, l.dskip, l.outProj,
		l.bParam, l.cParam, l.aImag, l.bImag, l.cImag}
}

func (l *layout) blockSpans(from, to int) []GradSpan {
	var out []GradSpan
	if from >= to {
		return nil
	}
	for _, f := range l.blockFields() {
		if f.n == 0 {
			continue
		}
		per := f.n / l.nL
		lo, hi := f.off+from*per, f.off+to*per
		if k := len(out) - 1; k >= 0 && out[k].Hi == lo {
			out[k].Hi = hi
			continue
		}
		out = append(out, GradSpan{lo, hi})
	}
	return out
}

func (l *layout) sharedSpans() []GradSpan {
	var out []GradSpan
	for _, f := range []field{l.embed, l.normF} {
		if f.n > 0 {
			out = append(out, GradSpan{f.off, f.off + f.n})
		}
	}
	return out
}
