package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
)

// MaxBatch is the most rows a step of bench generate takes (a row holds
// the whole recurrent state: 2.4 MB for the 130M shape). On either
// device; on a GPU, up to cudakernels.StepMaxRows rows run the step
// kernels, more run the products through cuBLAS.
const MaxBatch = 4096

// batchMinSteps is the fewest timed steps of a batch: large batches run
// --tokens tokens in all, so a step of 256 rows of the 130M shape (about
// 66 GFLOP) is not timed 256 times on two cores.
const batchMinSteps = 8

// batchShape is what a batch's floor is computed from: the bytes a step
// must move at least (every weight read once, each row's state read and
// written, its logits written) and its matrix FLOPs.
type batchShape struct {
	weightBytes float64 // per step, at the step's precision
	stateBytes  float64 // one row's recurrent state (conv and SSM), float32
	params      float64 // parameters: a row costs 2 FLOPs each
	vocab       int     // the padded vocabulary (logits per row)
}

// newBatchShape is the shape of a step of a model of config c and params
// parameters whose weights are weightBytes at the step's precision.
func newBatchShape(c *backbone.Config, params, weightBytes float64) batchShape {
	return batchShape{weightBytes: weightBytes, params: params, vocab: c.VocabSize, stateBytes: 4 * float64(c.RowStateFloats())}
}

// stepBytes is the floor of bytes the step of r moves: its weights (r's
// when it says, else the shape's), each row's state read and written,
// its logits written.
func (s batchShape) stepBytes(r batchResult) float64 {
	w := s.weightBytes
	if r.weightBytes > 0 {
		w = r.weightBytes
	}
	return w + float64(r.B)*(2*s.stateBytes+4*float64(s.vocab))
}

// batchResult is one batch's timing.
type batchResult struct {
	B, steps int
	stepSec  float64 // wall seconds a step, the argmax read back included
	// weightBytes (0: the shape's) are the bytes of weights the step
	// read, when its precision depends on the batch (a GPU's step kernels
	// of few rows read float32, its cuBLAS step of more bfloat16);
	// products says how its products ran ("": not shown).
	weightBytes float64
	products    string
}

func (r batchResult) tokensPerSec() float64 { return float64(r.B) / r.stepSec }

// batchIDs are the first tokens of a batch of B rows: random ids below
// vocab, from seed and B.
func batchIDs(B, vocab int, seed uint64) []int32 {
	r := rand.New(rand.NewPCG(seed, uint64(B)))
	ids := make([]int32, B)
	for i := range ids {
		ids[i] = int32(r.IntN(vocab))
	}
	return ids
}

// timeBatch times greedy generation on st, a Stepper of B rows on any
// device, as generate --batch runs it: each step feeds every row the
// token it chose last and reads back the argmax of each row. tokens is
// the tokens in all (at least batchMinSteps steps); vocab the ids the
// first tokens are drawn from.
func timeBatch(st backbone.Stepper, B, tokens, vocab int, seed uint64) (batchResult, error) {
	ids := batchIDs(B, vocab, seed)
	st.SetVocabLimit(vocab)
	// Warm-up: buffers, caches, a GPU's graph capture.
	for range 2 {
		if err := st.Step(ids); err != nil {
			return batchResult{}, err
		}
		if err := st.Argmax(ids); err != nil {
			return batchResult{}, err
		}
	}
	st.Reset()
	steps := max(batchMinSteps, (tokens+B-1)/B)
	start := time.Now()
	for range steps {
		if err := st.Step(ids); err != nil {
			return batchResult{}, err
		}
		if err := st.Argmax(ids); err != nil {
			return batchResult{}, err
		}
	}
	return batchResult{B: B, steps: steps, stepSec: time.Since(start).Seconds() / float64(steps)}, nil
}

// printBatches writes one row a batch: time a step, tokens/s, the bytes a
// step must move and the rate that makes, and the matrix FLOP rate; bw > 0
// (a measured bandwidth, bytes/s) adds the floor and how far above it the
// step is, and a batch's products, when given, how its products ran. Then
// a tokens_per_s line a batch.
func printBatches(w io.Writer, s batchShape, bw float64, res []batchResult) {
	products := false
	for _, r := range res {
		products = products || r.products != ""
	}
	fmt.Fprintf(w, "%6s %6s %10s %11s %10s %9s %9s", "batch", "steps", "ms/step", "tokens/s", "MB/step", "GB/s", "GFLOP/s")
	if bw > 0 {
		fmt.Fprintf(w, " %10s %8s", "floor ms", "x floor")
	}
	if products {
		fmt.Fprintf(w, "  %s", "products")
	}
	fmt.Fprintln(w)
	for _, r := range res {
		b := s.stepBytes(r)
		fmt.Fprintf(w, "%6d %6d %10.3f %11.0f %10.1f %9.1f %9.1f", r.B, r.steps, r.stepSec*1e3, r.tokensPerSec(),
			b/1e6, b/r.stepSec/1e9, 2*s.params*float64(r.B)/r.stepSec/1e9)
		if bw > 0 {
			fmt.Fprintf(w, " %10.3f %7.1fx", b/bw*1e3, r.stepSec/(b/bw))
		}
		if products {
			fmt.Fprintf(w, "  %s", r.products)
		}
		fmt.Fprintln(w)
	}
	for _, r := range res {
		fmt.Fprintf(w, "tokens_per_s=%.2f batch=%d\n", r.tokensPerSec(), r.B)
	}
}
