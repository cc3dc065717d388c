package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
	"github.com/mambakit/mambakit/framework/cudamodel"
)

// The anchors: state-spaces/mamba's MambaLMHeadModel.generate with
// causal-conv1d's update kernel, 130M shape, fp32, greedy, batch 1, with
// and without CUDA graphs, tokens/s (scripts/gpu/peer.sh, H100 80GB,
// 2026-12-06; docs/benchmarks.md has batches 8 to 256 and bf16).
const (
	genAnchorGraphs   = 1147
	genAnchorNoGraphs = 48
)

// generateCUDA times greedy generation at batch 1 on the GPU
// (cudamodel.Stepper), with and without a CUDA graph of the step: wall
// time per token including the argmax read back (as generate runs), the
// time of single tokens at positions 1, 128 and 256, and the device time
// of a step replayed back to back (device events, no read back); against
// the floor of reading every parameter once per token at the measured
// copy bandwidth. Each batch says how its products ran (under bf16 the
// one-row early kernels and the cuBLAS path read bfloat16 weights, the
// step kernels of 2 to 8 rows float32) and its floor counts the bytes
// its weights are read in (2 a weight for bf16 products).
func generateCUDA(o GenerateOptions, stdout io.Writer) error {
	d, err := cuda.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	cfg := backbone.NewConfig(o.Vocab, o.DModel, o.Layers)
	cfg.StateSize = o.DState
	g, err := newGPUModel(d, cfg, o.Seed)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.SetPrecision(o.Precision); err != nil {
		return err
	}
	timer, err := newCudaTimer(d, 1, 5)
	if err != nil {
		return err
	}
	bw, err := copyBandwidth(cudakernels.New(d), timer)
	if err != nil {
		return err
	}
	bytes := 4 * float64(g.NumParams())
	floor := bytes / bw // seconds per token
	fmt.Fprintf(stdout, "device: %s\n", d)
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, d_state %d, vocab %d: %.1fM parameters, %.0f MB of float32 read per token\n",
		o.DModel, o.Layers, o.DState, cfg.VocabSize, float64(g.NumParams())/1e6, bytes/1e6)
	fmt.Fprintf(stdout, "copy bandwidth %.0f GB/s: floor %.1f us per token (%.0f tokens/s)\n", bw/1e9, floor*1e6, 1/floor)
	type result struct {
		name     string
		tps      float64
		ahead    float64    // tokens/s in runs of StepAhead
		pos      [3]float64 // ms at positions 1, 128, 256
		deviceUs float64
		floor    float64 // seconds a token: the form's weight bytes at the copy bandwidth
		graph    bool
		asked    bool
	}
	type config struct {
		graphs bool
		v      cudakernels.StepVariant
	}
	def := cudamodel.DefaultStepVariant(d, 1)
	configs := []config{{false, def}, {true, def}}
	if o.AllVariants {
		configs = nil
		for _, v := range []cudakernels.StepVariant{{}, {MaxRows: 1}, {MaxRows: 1, Prefetch: true}, {MaxRows: 1, Prefetch: true, PDL: true},
			{MaxRows: 1, Prefetch: true, PDL: true, Early: true}, {MaxRows: 1, Prefetch: true, PDL: true, Early: true, L2: true},
			{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true},
			{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true, FoldOut: true}} {
			if v.PDL && d.PDLAvailable() != nil {
				continue
			}
			configs = append(configs, config{false, v}, config{true, v})
		}
	}
	var res []result
	lastNote := ""
	for _, cf := range configs {
		graphs := cf.graphs
		st, err := g.NewStepperWith(1, cudamodel.StepOptions{Graphs: graphs, Variant: cf.v})
		if err != nil {
			// One form that does not build or run leaves the others' rows.
			fmt.Fprintf(stdout, "kernels %v: %v\n", cf.v, err)
			continue
		}
		r := result{name: "plain " + cf.v.String(), asked: graphs}
		if graphs {
			r.name = "graph " + cf.v.String()
		}
		wb := float64(st.WeightBytes())
		r.floor = wb / bw
		if note := st.ProductsNote(); note != lastNote {
			// Once, and again for each form whose products run otherwise
			// (--variants all under bf16: the early forms read bfloat16).
			fmt.Fprintf(stdout, "batch 1 products: %s (kernels %v: %.0f MB of weights a token, floor %.1f us)\n", note, cf.v, wb/1e6, r.floor*1e6)
			lastNote = note
		}
		id := []int32{int32(rand.New(rand.NewPCG(o.Seed, 2)).IntN(o.Vocab))}
		// Warm-up: the capture and the first replays.
		for i := 0; i < 4; i++ {
			if err := st.Step(id); err != nil {
				return err
			}
		}
		if err := st.Argmax(id); err != nil {
			return err
		}
		st.Reset()
		per := make([]float64, o.Tokens+1)
		start := time.Now()
		for pos := 1; pos <= o.Tokens; pos++ {
			t0 := time.Now()
			if err := st.Step(id); err != nil {
				return err
			}
			if err := st.Argmax(id); err != nil {
				return err
			}
			per[pos] = time.Since(t0).Seconds() * 1e3
		}
		el := time.Since(start).Seconds()
		r.tps = float64(o.Tokens) / el
		// Greedy decoding as generate runs it once the prompt is in:
		// runs of backbone.MaxAhead steps, each step fed its argmax on
		// the device, read back once a run.
		st.Reset()
		buf := make([]int32, backbone.MaxAhead)
		start = time.Now()
		for done := 0; done < o.Tokens; {
			k := min(backbone.MaxAhead, o.Tokens-done)
			if err := st.StepAhead(id, k, buf); err != nil {
				return err
			}
			id[0] = buf[k-1]
			done += k
		}
		r.ahead = float64(o.Tokens) / time.Since(start).Seconds()
		for i, p := range []int{1, 128, 256} {
			if p <= o.Tokens {
				r.pos[i] = per[p]
			}
		}
		r.graph, _ = st.Graphs()
		// Device time of a step: replays back to back between two events.
		ev0, err := d.NewEvent()
		if err != nil {
			return err
		}
		ev1, err := d.NewEvent()
		if err != nil {
			return err
		}
		var ts []float64
		for k := 0; k < 5; k++ {
			if err := st.Synchronize(); err != nil {
				return err
			}
			if err := ev0.Record(st.Stream()); err != nil {
				return err
			}
			for range o.Reps {
				if err := st.Step(id); err != nil {
					return err
				}
			}
			if err := ev1.Record(st.Stream()); err != nil {
				return err
			}
			if err := ev1.Synchronize(); err != nil {
				return err
			}
			ms, err := cuda.ElapsedMs(ev0, ev1)
			if err != nil {
				return err
			}
			ts = append(ts, float64(ms)*1e3/float64(o.Reps))
		}
		r.deviceUs = upperMedian(ts)
		ev0.Destroy()
		ev1.Destroy()
		if _, why := st.Graphs(); graphs && !r.graph {
			fmt.Fprintf(stdout, "graph not used: %v\n", why)
		}
		if on, why := st.XProjFolded(); cf.v.Fold && !on {
			fmt.Fprintf(stdout, "%s: x_proj not folded into the scan step: %v\n", r.name, why)
		}
		if on, why := st.OutProjFolded(); cf.v.FoldOut && !on {
			fmt.Fprintf(stdout, "%s: out_proj not folded into the scan step: %v\n", r.name, why)
		}
		if err := st.Close(); err != nil {
			return err
		}
		res = append(res, r)
	}
	fmt.Fprintf(stdout, "%-40s %9s %9s %9s %9s %9s %12s %8s %7s\n", "mode (kernels)", "tokens/s", "ahead", "pos 1", "pos 128", "pos 256", "device/step", "x floor", "anchor")
	for _, r := range res {
		anchor := genAnchorNoGraphs
		if r.asked {
			anchor = genAnchorGraphs
		}
		fmt.Fprintf(stdout, "%-40s %9.0f %9.0f %7.3fms %7.3fms %7.3fms %10.1fus %7.1fx %7d\n", r.name, r.tps, r.ahead, r.pos[0], r.pos[1], r.pos[2],
			r.deviceUs, r.deviceUs*1e-6/r.floor, anchor)
	}
	for _, r := range res {
		fmt.Fprintf(stdout, "tokens_per_s=%.2f ahead_tokens_per_s=%.2f batch=1 graphs=%v kernels=%s\n", r.tps, r.ahead, r.graph, r.name)
	}
	// Larger batches: the default kernels with a graph, the loop the CPU
	// batches run (timeBatch).
	var batches []batchResult
	for _, B := range o.Batches {
		if B == 1 {
			continue
		}
		st, err := g.NewStepper(B, true)
		if err != nil {
			return err
		}
		r, err := timeBatch(st, B, o.Tokens, o.Vocab, o.Seed)
		r.weightBytes, r.products = float64(st.WeightBytes()), st.ProductsNote()
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		batches = append(batches, r)
	}
	if len(batches) > 0 {
		printBatches(stdout, newBatchShape(&cfg, float64(g.NumParams()), bytes), bw, batches)
	}
	if o.Ops {
		for _, B := range o.Batches {
			if err := stepOps(g, B, o.Vocab, o.Seed, stdout); err != nil {
				return err
			}
		}
	}
	return nil
}

// stepOps prints where a step of B rows goes: a Stepper without a graph
// (events cannot be recorded inside one), op timing on, 2 steps of
// warm-up, then the mean of stepOpsSteps steps.
func stepOps(g *cudamodel.Model, B, vocab int, seed uint64, w io.Writer) error {
	st, err := g.NewStepper(B, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ids := batchIDs(B, vocab, seed)
	if err := g.TimeOps(true); err != nil {
		return err
	}
	defer g.TimeOps(false)
	var t opTable
	for i := -2; i < stepOpsSteps; i++ {
		if err := st.Step(ids); err != nil {
			return err
		}
		if i < 0 {
			_, err = g.OpTimes() // warm-up: dropped
		} else {
			err = t.add(g)
		}
		if err != nil {
			return err
		}
	}
	t.print(w, fmt.Sprintf("a step of %d rows (no graph)", B), stepOpsSteps, 0)
	return nil
}

const stepOpsSteps = 20
