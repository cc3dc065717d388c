package cudamodel

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// Stepper is the recurrent form of the model on the GPU
// (backbone.Model.Step): the conv and SSM states of B rows on the device,
// one token per row in, the logits (B, V) and their argmax out. Up to
// cudakernels.StepMaxRows rows, a step is 4 launches a layer plus 2
// (kernels/step.cu); past that (many samples at once) the products run
// through cuBLAS on the Stepper's stream, with the norm, the convolution
// step and the argmax as kernels of their own (launchRows),
// issued on the Stepper's own non-blocking stream; with graphs, the whole
// step is captured once into a CUDA graph and replayed for every token
// (two graphs: steps at even and odd positions keep their argmax keys in
// two slots, so that a step can read the one before's while it clears
// its own, StepAhead), the token ids, reset flags, vocabulary limit and
// position written to device memory before each replay.
//
// The Stepper reads the model's parameters where they are: after
// parameters change on the default stream (a training step, Upload), call
// Model.Device().Synchronize() before the next Step. Its products run at
// the model's precision when it was made (Products): in bf16, past the
// step kernels' rows (cuBLAS) and for one row with the early kernels
// (step_gemv_e16), they read the bfloat16 copy of the parameters that
// training's products read, made again by the next Step after the
// parameters change. The step kernels of 2 to 8 rows read float32
// weights whatever the precision.
type Stepper struct {
	g *Model
	B int

	buf                                 *cuda.Buffer
	io, amax, hist                      cuda.DevPtr // amax: two steps' argmax keys (B each, by the position's parity); hist: the fed ids (StepEmbed)
	x, u, z, xdbl, y, logits, conv, ssm cuda.DevPtr
	xn, xz                              cuda.DevPtr        // past StepMaxRows rows: the normalized input (B, D), in_proj's output (B, 2·Din)
	xn16, u16, y16                      cuda.DevPtr        // wide bf16 products: xn, u and y as bfloat16, written by their producers
	fold                                bool               // x_proj inside the scan step (StepVariant.Fold, where it takes the shape)
	foldOut                             bool               // and out_proj (StepVariant.FoldOut)
	b16ver                              uint64             // the version of the parameters' bfloat16 copy the steps read (syncBF16)
	foldErr, outErr                     error              // why not, when the variant asked for them
	x2, parts                           cuda.DevPtr        // foldOut: the residual's other buffer (B, D), out_proj's parts (np, D)
	np                                  int                // foldOut: out_proj's parts (StepScan.OutParts)
	S                                   int                // x_proj rows: R + B rows + C rows
	wide                                bool               // more rows than StepGEMV takes: launchRows
	prec                                backbone.Precision // the products' precision (Products; bf16)

	variant   cudakernels.StepVariant
	stream    *cuda.Stream
	graph     [2]*cuda.Graph // the step at an even position and at an odd one (their argmax keys' slots differ)
	par       int            // the parity of the step being issued
	graphs    bool           // use a graph when capture works
	graphErr  error          // why the step runs as plain launches
	capturing bool           // launch is being captured into the graph (no op timing)

	hostIO  []int32
	keys    []byte
	pending []bool // rows that start afresh at the next step
	vlimit  int
	pos     int
}

// graphNotice prints the reason graphs are off once per process;
// productsNotice, once, that a Stepper of few rows runs its products in
// float32 under another precision (2 to 8 rows; one row without the early
// kernels or under tf32).
var graphNotice, productsNotice sync.Once

// StepOptions choose how a Stepper runs.
type StepOptions struct {
	Graphs  bool                    // capture the step into a CUDA graph
	Variant cudakernels.StepVariant // the kernels' form (DefaultStepVariant)
}

// DefaultStepVariant is the kernels' form a Stepper of B rows uses unless
// told otherwise: the one-row kernels for B = 1, weights prefetched, and
// programmatic dependent launches where the device has them, and for one
// row the early kernels (cudakernels.StepVariant.Early). $MAMBAKIT_CUDA_STEP_PREFETCH=0,
// $MAMBAKIT_CUDA_PDL=0 and $MAMBAKIT_CUDA_STEP_EARLY=0 turn these off;
// $MAMBAKIT_CUDA_STEP_L2=1 adds the L2 prefetch of later kernels' weights
// (sm_90; slower on the H200); $MAMBAKIT_CUDA_STEP_FOLD=1 folds x_proj
// into the scan step (StepVariant.Fold, sm_90), =2 out_proj as well
// (FoldOut).
func DefaultStepVariant(d *cuda.Device, B int) cudakernels.StepVariant {
	v := cudakernels.StepVariant{Prefetch: os.Getenv("MAMBAKIT_CUDA_STEP_PREFETCH") != "0"}
	if B == 1 {
		v.MaxRows = 1
	}
	v.PDL = v.Prefetch && os.Getenv("MAMBAKIT_CUDA_PDL") != "0" && d.PDLAvailable() == nil
	if B == 1 && v.Prefetch && os.Getenv("MAMBAKIT_CUDA_STEP_EARLY") != "0" {
		v.Early = true
		fold := os.Getenv("MAMBAKIT_CUDA_STEP_FOLD")
		v.Fold = d.Major >= 9 && (fold == "1" || fold == "2")
		v.FoldOut = v.Fold && fold == "2"
		// The L2 prefetch measured slower (H200: 323 µs a step against
		// 285 without): opt in only.
		v.L2 = d.Major >= 9 && os.Getenv("MAMBAKIT_CUDA_STEP_L2") == "1"
	}
	return v
}

// NewStepper allocates the state of B rows (zero) and the step's buffers,
// with the default kernels. graphs asks for a CUDA graph of the step
// ($MAMBAKIT_CUDA_GRAPHS=0 turns them off); when the capture fails the
// step runs as plain launches and the reason is printed once (Graphs
// returns it).
func (g *Model) NewStepper(B int, graphs bool) (*Stepper, error) {
	return g.NewStepperWith(B, StepOptions{Graphs: graphs, Variant: DefaultStepVariant(g.dev.Device, B)})
}

// NewStepperWith is NewStepper with the kernels' form chosen.
func (g *Model) NewStepperWith(B int, o StepOptions) (*Stepper, error) {
	graphs := o.Graphs
	if B < 1 || B > MaxStepRows {
		return nil, fmt.Errorf("cudamodel: stepper of %d rows: want 1..%d", B, MaxStepRows)
	}
	c := &g.Config
	V, D, Din, N, _, K, nL := dims(c)
	wide := B >= wideFrom(c)
	if o.Variant.MaxRows != 0 && B > o.Variant.MaxRows {
		return nil, fmt.Errorf("cudamodel: stepper of %d rows: the kernels (%v) take at most %d", B, o.Variant, o.Variant.MaxRows)
	}
	if wide {
		// cuBLAS's kernels take no programmatic dependent launch: plain
		// launches between them.
		o.Variant.PDL = false
	}
	r, nb, nc := xProjRows(c)
	s := &Stepper{g: g, B: B, S: r + nb + nc, variant: o.Variant, wide: wide, graphs: graphs && os.Getenv("MAMBAKIT_CUDA_GRAPHS") != "0" && os.Getenv("MAMBAKIT_CUDA_SYNC") != "1",
		hostIO: make([]int32, cudakernels.StepIOLen(B)), keys: make([]byte, 8*B), pending: make([]bool, B), vlimit: V, prec: backbone.FP32}
	prec := g.precision()
	if wide {
		s.prec = prec
	}
	// One row of the early kernels reads bfloat16 weights under bf16
	// (step_gemv_e16) when every product's shape takes it (earlyBF16,
	// once the bfloat16 copy exists).
	early16 := !wide && B == 1 && o.Variant.Early && prec == backbone.BF16
	if graphs && !s.graphs {
		s.graphErr = errors.New("turned off by $MAMBAKIT_CUDA_GRAPHS=0 or $MAMBAKIT_CUDA_SYNC=1")
	}
	type slot struct {
		p *cuda.DevPtr
		n int
	}
	slots := []slot{
		{&s.io, cudakernels.StepIOLen(B)}, {&s.amax, 4 * B}, {&s.hist, cudakernels.StepHistory * B},
		{&s.x, B * D}, {&s.u, B * Din}, {&s.z, B * Din}, {&s.xdbl, B * max(s.S, 1)}, {&s.y, B * Din}, {&s.logits, B * V},
		{&s.conv, nL * B * Din * (K - 1)}, {&s.ssm, nL * B * Din * N * cf(c)},
	}
	if wide {
		slots = append(slots, slot{&s.xn, B * D}, slot{&s.xz, B * 2 * Din})
	}
	if o.Variant.FoldOut && !wide {
		s.np = (&cudakernels.StepScan{D: Din}).OutParts()
		slots = append(slots, slot{&s.x2, B * D}, slot{&s.parts, max(s.np, 1) * D})
	}
	if s.bf16() { // wide: bfloat16 pairs in float32 slots
		slots = append(slots, slot{&s.xn16, (B*D + 1) / 2}, slot{&s.u16, (B*Din + 1) / 2}, slot{&s.y16, (B*Din + 1) / 2})
	}
	total := 0
	for _, sl := range slots {
		total += (sl.n + 63) / 64 * 64
	}
	var err error
	if s.buf, err = g.dev.AllocF32(total); err != nil {
		return nil, err
	}
	off := 0
	for _, sl := range slots {
		*sl.p = s.buf.At(off)
		off += (sl.n + 63) / 64 * 64
	}
	if err := s.buf.Fill32(0); err != nil {
		s.Close()
		return nil, err
	}
	if err := g.dev.StepKernels(s.variant); err != nil {
		s.Close()
		return nil, err
	}
	if s.stream, err = g.dev.NewStreamNonBlocking(); err != nil {
		s.Close()
		return nil, err
	}
	if s.bf16() || early16 {
		// The bfloat16 weights, before any graph is captured.
		if err := g.paramsBF16(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if early16 && s.earlyBF16() {
		s.prec = backbone.BF16
	}
	if o.Variant.Fold {
		// x_proj inside the scan step where the device and the shape
		// take it (cudakernels.StepScan.Folds), else its own kernel.
		s.foldErr = errors.New("one row of the early kernels with x_proj only")
		var sc *cudakernels.StepScan // layer 0's scan step with x_proj folded in
		if !wide && B == 1 && s.S > 0 {
			sc = s.foldXProj(s.scanStep(0), 0)
			s.foldErr = sc.Folds(g.dev)
		}
		s.fold = s.foldErr == nil
		if o.Variant.FoldOut {
			s.outErr = fmt.Errorf("x_proj is not folded in: %w", s.foldErr)
			if s.fold {
				s.outErr = s.foldOutProj(sc, 0).Folds(g.dev)
			}
			s.foldOut = s.outErr == nil
		}
	}
	if !wide && !s.bf16() && prec != backbone.FP32 {
		productsNotice.Do(func() { fmt.Fprintf(os.Stderr, "cudamodel: %s\n", s.fallbackNote(prec)) })
	}
	// The parameters, their bfloat16 copy and the zeroed buffers come
	// from the default stream.
	if err := g.dev.Synchronize(); err != nil {
		s.Close()
		return nil, err
	}
	s.b16ver = g.b16.ver
	s.Reset()
	return s, nil
}

// Close frees the Stepper's graph, stream and buffers.
func (s *Stepper) Close() error {
	var errs []error
	if s.stream != nil {
		errs = append(errs, s.stream.Synchronize())
	}
	for i, g := range s.graph {
		errs = append(errs, g.Destroy())
		s.graph[i] = nil
	}
	errs = append(errs, s.stream.Destroy())
	s.stream = nil
	errs = append(errs, s.buf.Free())
	s.buf = nil
	return errors.Join(errs...)
}

// Variant is the kernels' form.
func (s *Stepper) Variant() cudakernels.StepVariant { return s.variant }

// Products is the precision the step's matrix products run at: the
// model's (SetPrecision before NewStepper) when they run through cuBLAS
// (from wideFrom rows); bf16 for one row of the early kernels under bf16
// (bfloat16 weights, step_gemv_e16); otherwise fp32: the step kernels of
// 2 to 8 rows, and of one row without the early form or under tf32, read
// float32 weights whatever the model's precision.
func (s *Stepper) Products() backbone.Precision { return s.prec }

// bf16 reports whether the products read the parameters' bfloat16 copy:
// launchRows's cuBLAS products (wide), or one row's early product kernels
// (StepGEMV.W16, which round x themselves).
func (s *Stepper) bf16() bool { return s.prec == backbone.BF16 }

// ProductsNote says in a few words how the step's products run:
// "bf16 (cuBLAS)", "bf16 (step kernels, bfloat16 weights)", "fp32 (step
// kernels)", or, when the model's precision is another, that the step
// kernels run fp32 and where the model's precision applies ("fp32 (step
// kernels, float32 weights; bf16 at B = 1 with the early kernels and from
// B = 9, cuBLAS)").
func (s *Stepper) ProductsNote() string {
	p, from := s.g.precision(), wideFrom(&s.g.Config)
	switch {
	case s.wide:
		return fmt.Sprintf("%s (cuBLAS)", s.prec)
	case s.bf16():
		return "bf16 (step kernels, bfloat16 weights)"
	case p == backbone.BF16:
		return fmt.Sprintf("fp32 (step kernels, float32 weights; bf16 at B = 1 with the early kernels and from B = %d, cuBLAS)", from)
	case p != backbone.FP32:
		return fmt.Sprintf("fp32 (step kernels, float32 weights; %s from B = %d, cuBLAS)", p, from)
	}
	return "fp32 (step kernels)"
}

// fallbackNote is the one line printed (once a process) when a Stepper of
// the step kernels runs its products in float32 under precision p, and
// why.
func (s *Stepper) fallbackNote(p backbone.Precision) string {
	from := wideFrom(&s.g.Config)
	if p != backbone.BF16 {
		return fmt.Sprintf("precision %s: a step of B = %d runs its products in float32 (the step kernels' weights are float32); %s products run from B = %d (cuBLAS)",
			p, s.B, p, from)
	}
	why := fmt.Sprintf("the step kernels of 2 to %d rows read float32 weights", from-1)
	switch {
	case s.B == 1 && !s.variant.Early:
		why = fmt.Sprintf("its kernels, %v, are not the early form: $MAMBAKIT_CUDA_STEP_EARLY=0 or $MAMBAKIT_CUDA_STEP_PREFETCH=0?", s.variant)
	case s.B == 1:
		why = fmt.Sprintf("the early kernels take bfloat16 weights for d_model and d_inner multiples of 4 up to 1536, not %d and %d",
			s.g.Config.HiddenSize, s.g.Config.IntermediateSize)
	}
	return fmt.Sprintf("precision bf16: a step of B = %d runs its products in float32 (%s); bf16 products run at B = 1 with the early step kernels and from B = %d (cuBLAS)",
		s.B, why, from)
}

// earlyBF16 reports whether every product of a one-row step takes the
// early kernel's bfloat16 form (cudakernels.StepVariant.EarlyBF16) at its
// weights' place in the parameters' bfloat16 copy (paramsBF16 made it).
func (s *Stepper) earlyBF16() bool {
	g, v := s.g, s.variant
	p, ly := g.params, g.lay
	_, D, Din, _, _, _, nL := dims(&g.Config)
	ok := v.EarlyBF16(1, D, g.weightBF16(at(p, ly.embed)))
	for l := 0; l < nL && ok; l++ {
		ok = v.EarlyBF16(1, D, g.weightBF16(ly.lay(p, ly.inProj, l))) &&
			v.EarlyBF16(1, Din, g.weightBF16(ly.lay(p, ly.outProj, l))) &&
			(s.S == 0 || v.EarlyBF16(1, Din, g.weightBF16(ly.lay(p, ly.xProj, l))))
	}
	return ok
}

// WeightBytes is the bytes of parameters a step reads at least: the
// products' weights (in_proj, x_proj, out_proj and the tied head) at 2
// bytes a weight when they are read in bfloat16 (bf16 on the cuBLAS path
// or in one row's early kernels), every other parameter (and every one
// in float32) at 4.
func (s *Stepper) WeightBytes() int {
	ly := s.g.lay
	prod := ly.inProj.n + ly.xProj.n + ly.outProj.n + ly.embed.n
	if !s.bf16() {
		return 4 * ly.total
	}
	return 2*prod + 4*(ly.total-prod)
}

// XProjFolded reports whether x_proj runs inside the scan step
// (StepVariant.Fold), and why not when the variant asked for it.
func (s *Stepper) XProjFolded() (bool, error) { return s.fold, s.foldErr }

// OutProjFolded reports whether out_proj runs inside the scan step too
// (StepVariant.FoldOut): two launches a layer; and why not when the
// variant asked for it.
func (s *Stepper) OutProjFolded() (bool, error) { return s.foldOut, s.outErr }

// Rows is the number of rows.
func (s *Stepper) Rows() int { return s.B }

// Position is the number of steps since the last Reset.
func (s *Stepper) Position() int { return s.pos }

// Graphs reports whether the step runs as a CUDA graph (after the first
// Step), and why not.
func (s *Stepper) Graphs() (bool, error) { return s.graph[0] != nil || s.graph[1] != nil, s.graphErr }

// Reset makes every row start afresh at the next step (zero states).
func (s *Stepper) Reset() {
	for i := range s.pending {
		s.pending[i] = true
	}
	s.pos = 0
}

// ResetRow makes row b start afresh at the next step (a document start).
func (s *Stepper) ResetRow(b int) { s.pending[b] = true }

// SetVocabLimit limits the argmax to ids below v (0 or ≥ V: all).
func (s *Stepper) SetVocabLimit(v int) {
	V := s.g.Config.VocabSize
	if v <= 0 || v > V {
		v = V
	}
	s.vlimit = v
}

// Step feeds one token per row (ids: B) and leaves the logits of the next
// token and their argmax on the device (Logits, Argmax). It returns once
// the step is issued.
func (s *Stepper) Step(ids []int32) error {
	V := s.g.Config.VocabSize
	if len(ids) != s.B {
		return fmt.Errorf("cudamodel: step: %d ids for %d rows", len(ids), s.B)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("cudamodel: step: id %d in row %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	return s.step(ids)
}

// StepAhead is greedy decoding run ahead of the host: it feeds each row
// ids (B), then k − 1 more steps that each feed every row the argmax of
// the step before on the device (no copy back between them), and writes
// the k argmaxes of each row, step by step (k·B, the argmax of step j of
// row b at j·B + b), to dst, waiting for them. k is 1 to
// cudakernels.StepHistory. The state, Logits and Argmax are those of the
// last step, as after k calls of Step and Argmax.
func (s *Stepper) StepAhead(ids []int32, k int, dst []int32) error {
	B := s.B
	if k < 1 || k > cudakernels.StepHistory {
		return fmt.Errorf("cudamodel: step ahead: %d steps, want 1..%d", k, cudakernels.StepHistory)
	}
	if len(dst) < k*B {
		return fmt.Errorf("cudamodel: step ahead: room for %d ids, want k·B = %d", len(dst), k*B)
	}
	p0 := s.pos
	if err := s.Step(ids); err != nil {
		return err
	}
	feed := make([]int32, B)
	for i := range feed {
		feed[i] = -1
	}
	for j := 1; j < k; j++ {
		if err := s.step(feed); err != nil {
			return err
		}
	}
	// The ids fed at positions p0+1 … p0+k−1 (hist's rows modulo
	// StepHistory, in at most two runs) are the argmaxes of the steps
	// before them; the last step's is in its keys.
	H := cudakernels.StepHistory
	for j := 1; j < k; {
		row := (p0 + j) % H
		n := min(k-j, H-row)
		if err := s.stream.CopyFromDevice(cuda.I32Bytes(dst[(j-1)*B:(j-1+n)*B]), s.hist+cuda.DevPtr(4*row*B)); err != nil {
			return err
		}
		j += n
	}
	return s.Argmax(dst[(k-1)*B : k*B])
}

// step issues a step feeding ids (B; −1: the row's argmax of the step
// before, StepAhead).
func (s *Stepper) step(ids []int32) error {
	if s.bf16() {
		if err := s.syncBF16(); err != nil {
			return err
		}
	}
	B := s.B
	copy(s.hostIO, ids)
	for i, r := range s.pending {
		s.hostIO[B+i] = 0
		if r {
			s.hostIO[B+i] = 1
		}
	}
	s.hostIO[2*B], s.hostIO[2*B+1] = int32(s.vlimit), int32(s.pos)
	if err := s.stream.CopyToDevice(s.io, cuda.I32Bytes(s.hostIO)); err != nil {
		return err
	}
	// The argmax keys of this step go to slot pos % 2; the step reads
	// the other's (the step before) for a row fed −1.
	s.par = s.pos % 2
	if s.graph[s.par] == nil && s.graphs && s.graphErr == nil {
		s.capture()
	}
	var err error
	if g := s.graph[s.par]; g != nil {
		err = g.Launch(s.stream)
	} else {
		err = s.launch()
	}
	if err != nil {
		return err
	}
	clear(s.pending)
	s.pos++
	return nil
}

// syncBF16 makes the bfloat16 copy of the parameters again when they
// changed since it was made (paramsChanged), before the step is issued or
// its graph replayed (the graph reads the copy where it is); an AdamW
// step writes the copy itself, which changes its version. The copy is
// written on the default stream, which the Stepper's non-blocking stream
// does not wait for: the steps issued before, which may read the copy,
// are waited for first, and the copy after.
func (s *Stepper) syncBF16() error {
	b := &s.g.b16
	if b.params != nil && b.fresh && b.ver == s.b16ver {
		return nil
	}
	if err := s.stream.Synchronize(); err != nil {
		return err
	}
	if err := s.g.paramsBF16(); err != nil {
		return err
	}
	if err := s.g.dev.Synchronize(); err != nil {
		return err
	}
	s.b16ver = b.ver
	return nil
}

// capture records one step at the parity s.par into a graph; on failure
// it keeps the reason, prints it once, and the step runs as plain
// launches.
func (s *Stepper) capture() {
	st := s.stream
	err := st.BeginCapture()
	if err == nil {
		s.capturing = true
		lerr := s.launch()
		s.capturing = false
		g, eerr := st.EndCapture()
		if err = errors.Join(lerr, eerr); err == nil {
			s.graph[s.par] = g
			return
		}
		g.Destroy()
	}
	s.graphErr = err
	graphNotice.Do(func() {
		fmt.Fprintf(os.Stderr, "cudamodel: CUDA graph capture failed, the step runs as plain launches: %v\n", err)
	})
}

// launch issues the step's kernels on the Stepper's stream.
func (s *Stepper) launch() error {
	if s.wide {
		return s.launchRows()
	}
	g, d, st, v := s.g, s.g.dev, s.stream, s.variant
	c := &g.Config
	V, D, Din, _, _, K, nL := dims(c)
	B, p, ly := s.B, g.params, g.lay
	eps := float32(c.LayerNormEpsilon)
	e, end := s.startPass()
	defer end()
	// l2at is n weights of a product at w (a view of the parameters) as
	// a range for the L2 form to fetch: in bf16 their place in the
	// bfloat16 copy, which the products read.
	l2at := func(w cuda.DevPtr, n int) cudakernels.L2Range {
		if s.bf16() {
			return cudakernels.L2Range{P: g.weightBF16(w), Bytes: 2 * n}
		}
		return cudakernels.L2Range{P: w, Bytes: 4 * n}
	}
	// l2 is layer l's part of a product's weights.
	l2 := func(f field, l int) cudakernels.L2Range {
		if f.n == 0 || l >= nL {
			return cudakernels.L2Range{}
		}
		return l2at(ly.lay(p, f, l), f.n/nL)
	}
	e.op("embedding", d.StepEmbed(st, v, s.x, at(p, ly.embed), s.io, s.keysAt(s.par), s.keysAt(1-s.par), s.hist, B, D))
	// x is the residual a layer reads. With out_proj folded in, a layer
	// after the first reads the one before's residual and out_proj's
	// parts, and its in_proj writes their sum to the other buffer, which
	// is the residual from then on.
	x := s.x
	for l := 0; l < nL && e.err == nil; l++ {
		in := s.gemv(&cudakernels.StepGEMV{B: B, N: 2 * Din, K: D, X: x, LDX: D,
			NormW: ly.lay(p, ly.norm, l), Eps: eps, Out: s.u, Epi: cudakernels.EpiInConv, Out2: s.z,
			ConvW: ly.lay(p, ly.convW, l), ConvState: f4(s.conv, l*B*Din*(K-1)), Din: Din, Kc: K, IO: s.io, V: v}, ly.lay(p, ly.inProj, l))
		if c.UseConvBias {
			in.ConvB = ly.lay(p, ly.convB, l)
		}
		// in_proj has the L2 fetch this layer's x_proj and out_proj; the
		// scan, the next layer's in_proj (after the last layer, the
		// head's first rows).
		in.L2 = [2]cudakernels.L2Range{l2(ly.xProj, l), l2(ly.outProj, l)}
		if s.foldOut && l > 0 {
			in.Parts, in.NParts, in.XSum = s.parts, s.np, s.otherX(x)
			x = in.XSum
		}
		e.op("rmsnorm + in_proj + conv1d", in.Run(d, st))
		if s.S > 0 && !s.fold {
			e.op("x_proj", s.gemv(&cudakernels.StepGEMV{B: B, N: s.S, K: Din, X: s.u, LDX: Din,
				Out: s.xdbl, LDO: s.S, Epi: cudakernels.EpiStore, V: v}, ly.lay(p, ly.xProj, l)).Run(d, st))
		}
		sc := s.scanStep(l)
		sc.L2[0] = l2(ly.inProj, l+1)
		if l+1 == nL {
			sc.L2[0] = l2at(at(p, ly.embed), min(ly.embed.n, 2*Din*D))
		}
		switch {
		case s.foldOut:
			e.op("x_proj + scan + out_proj", s.foldOutProj(s.foldXProj(sc, l), l).Run(d, st))
		case s.fold:
			e.op("x_proj + scan", s.foldXProj(sc, l).Run(d, st))
		default:
			e.op("scan", sc.Run(d, st))
		}
		if !s.foldOut {
			e.op("out_proj", s.gemv(&cudakernels.StepGEMV{B: B, N: D, K: Din, X: s.y, LDX: Din,
				Out: x, LDO: D, Epi: cudakernels.EpiAdd, V: v}, ly.lay(p, ly.outProj, l)).Run(d, st))
		}
	}
	head := s.gemv(&cudakernels.StepGEMV{B: B, N: V, K: D, X: x, LDX: D, NormW: at(p, ly.normF), Eps: eps,
		Out: s.logits, LDO: V, Epi: cudakernels.EpiArgmax, IO: s.io, Argmax: s.keysAt(s.par), V: v}, at(p, ly.embed))
	if s.foldOut {
		head.Parts, head.NParts = s.parts, s.np
	}
	e.op("norm_f + head + argmax", head.Run(d, st))
	return e.err
}

// keysAt is the argmax keys of the steps at positions of parity par (B
// uint64s).
func (s *Stepper) keysAt(par int) cuda.DevPtr { return s.amax + cuda.DevPtr(8*s.B*par) }

// otherX is the residual buffer that is not x (out_proj folded in).
func (s *Stepper) otherX(x cuda.DevPtr) cuda.DevPtr {
	if x == s.x {
		return s.x2
	}
	return s.x
}

// foldOutProj makes sc (layer l's scan step, with x_proj folded in) work
// out out_proj too (cudakernels.StepScan.OW, StepVariant.FoldOut), in
// the precision of x_proj's weights, leaving its parts for the next
// product.
func (s *Stepper) foldOutProj(sc *cudakernels.StepScan, l int) *cudakernels.StepScan {
	g := s.g
	sc.OW, sc.OW16 = s.weights(g.lay.lay(g.params, g.lay.outProj, l))
	sc.OD, sc.OP = g.Config.HiddenSize, s.parts
	return sc
}

// foldXProj makes sc (layer l's scan step) work out x_proj itself
// (cudakernels.StepScan.XW, StepVariant.Fold): from the float32 weights,
// or in bf16 their bfloat16 copy; the outputs it reads lie where x_proj
// would have written them (xdbl).
func (s *Stepper) foldXProj(sc *cudakernels.StepScan, l int) *cudakernels.StepScan {
	g := s.g
	sc.XW, sc.XW16 = s.weights(g.lay.lay(g.params, g.lay.xProj, l))
	sc.XS, sc.XOut = s.S, s.xdbl
	return sc
}

// gemv is g reading its weights at w, a view of the parameters (weights).
func (s *Stepper) gemv(g *cudakernels.StepGEMV, w cuda.DevPtr) *cudakernels.StepGEMV {
	g.W, g.W16 = s.weights(w)
	return g
}

// weights is how the step kernels read the weights at w, a view of the
// parameters: as float32 (w32 = w), or in bf16 (one row, the early
// kernels) as bfloat16 (w16: w's place in the parameters' bfloat16
// copy); the other is 0.
func (s *Stepper) weights(w cuda.DevPtr) (w32, w16 cuda.DevPtr) {
	if s.bf16() {
		return 0, s.g.weightBF16(w)
	}
	return w, 0
}

// startPass is the model's startPass for one launch of the step (pass
// "step", on the Stepper's stream), untimed while it is being captured
// into a graph (no events inside one).
func (s *Stepper) startPass() (*errs, func()) {
	if s.capturing {
		return &errs{}, func() {}
	}
	return s.g.startPass("step", s.stream)
}

// scanStep is layer l's scan step over the Stepper's buffers.
func (s *Stepper) scanStep(l int) *cudakernels.StepScan {
	g := s.g
	c, p, ly, B, v := &g.Config, g.params, g.lay, s.B, s.variant
	_, _, Din, N, _, _, _ := dims(c)
	r, nb, _ := xProjRows(c)
	sc := &cudakernels.StepScan{B: B, D: Din, N: N, R: r, U: s.u, Z: s.z, DtBias: ly.lay(p, ly.dtB, l),
		ALog: ly.lay(p, ly.aLog, l), Dskip: ly.lay(p, ly.dskip, l), H: f4(s.ssm, l*B*Din*N*cf(c)), Y: s.y, IO: s.io, V: v,
		Y16: s.y16, DtBF16: s.bf16()}
	if r > 0 {
		sc.DtLow, sc.LDDt, sc.DtW = s.xdbl, s.S, ly.lay(p, ly.dtW, l)
	}
	if selective(c, "B") {
		sc.Bm, sc.LDB = f4(s.xdbl, r), s.S
		if c.ComplexA {
			sc.BImag = f4(s.xdbl, r+N)
		}
	} else {
		sc.Bm, sc.BImag = ly.lay(p, ly.bParam, l), ly.lay(p, ly.bImag, l)
	}
	if selective(c, "C") {
		sc.Cm, sc.LDC = f4(s.xdbl, r+nb), s.S
		if c.ComplexA {
			sc.CImag = f4(s.xdbl, r+nb+N)
		}
	} else {
		sc.Cm, sc.CImag = ly.lay(p, ly.cParam, l), ly.lay(p, ly.cImag, l)
	}
	if c.ComplexA {
		sc.AImag = ly.lay(p, ly.aImag, l)
	} else {
		sc.BImag, sc.CImag = 0, 0
	}
	return sc
}

// MaxStepRows is the most rows a Stepper takes.
const MaxStepRows = 1 << 16

// stepStagedMax is the most bytes of input StepGEMV stages: 48 KB of
// dynamic shared memory less its static arrays (1 KB at most).
const stepStagedMax = 47 << 10

// wideFrom is the fewest rows whose step runs its products through
// cuBLAS (launchRows): more than cudakernels.StepMaxRows, or fewer once
// the rows' input StepGEMV would stage in shared memory passes
// stepStagedMax (a launch past 48 KB would need the opt-in attribute; 8
// rows of the 130M shape's 1536 channels are 48 KB).
func wideFrom(c *backbone.Config) int {
	_, D, Din, _, _, _, _ := dims(c)
	return min(cudakernels.StepMaxRows+1, stepStagedMax/(4*max(D, Din))+1)
}

// launchRows issues a step of more rows than StepGEMV takes: each
// product through cuBLAS (at the Stepper's precision, product) on the
// Stepper's stream, between the kernels that do what StepGEMV's norm and
// epilogues do. Per layer: the norm, in_proj, the convolution step,
// x_proj, the scan step, out_proj adding into the residual; then the
// final norm, the head and the argmax. In bf16 the norm, the convolution
// and the scan also write their outputs in bfloat16 (xn16, u16, y16) for
// the products after them: no launch of its own rounds an operand.
func (s *Stepper) launchRows() error {
	g, d, st, v := s.g, s.g.dev, s.stream, s.variant
	c := &g.Config
	V, D, Din, _, _, K, nL := dims(c)
	B, p, ly, bl := s.B, g.params, g.lay, g.blas
	eps := float32(c.LayerNormEpsilon)
	e, end := s.startPass()
	defer end()
	if err := bl.SetStream(st); err != nil {
		return err
	}
	defer bl.SetStream(nil)
	e.op("embedding", d.StepEmbed(st, v, s.x, at(p, ly.embed), s.io, s.keysAt(s.par), s.keysAt(1-s.par), s.hist, B, D))
	for l := 0; l < nL && e.err == nil; l++ {
		e.op("rmsnorm", d.StepRMSNormRows(st, v, s.x, D, ly.lay(p, ly.norm, l), eps, B, D, s.xn, s.xn16))
		e.op("in_proj", s.product(B, 2*Din, D, s.xn, s.xn16, ly.lay(p, ly.inProj, l), 0, s.xz))
		convB := cuda.DevPtr(0)
		if c.UseConvBias {
			convB = ly.lay(p, ly.convB, l)
		}
		e.op("conv1d + silu", d.StepConvRows(st, v, s.xz, B, Din, ly.lay(p, ly.convW, l), convB, f4(s.conv, l*B*Din*(K-1)), K, s.io, s.u, s.z, s.u16))
		if s.S > 0 {
			e.op("x_proj", s.product(B, s.S, Din, s.u, s.u16, ly.lay(p, ly.xProj, l), 0, s.xdbl))
		}
		e.op("scan", s.scanStep(l).Run(d, st))
		e.op("out_proj", s.product(B, D, Din, s.y, s.y16, ly.lay(p, ly.outProj, l), 1, s.x))
	}
	e.op("norm_f", d.StepRMSNormRows(st, v, s.x, D, at(p, ly.normF), eps, B, D, s.xn, s.xn16))
	e.op("head", s.product(B, V, D, s.xn, s.xn16, at(p, ly.embed), 0, s.logits))
	e.op("argmax", d.StepArgmaxRows(st, v, s.logits, B, V, s.io, s.keysAt(s.par)))
	return e.err
}

// product is c = a·wᵀ + beta·c (a (m, k), w (n, k) a weight inside the
// parameters, c (m, n)) through cuBLAS on the stream set: in bf16 from a16,
// a's bfloat16 form, and w's in the parameters' bfloat16 copy (float32
// sums and output); otherwise from a and w at the handle's math.
func (s *Stepper) product(m, n, k int, a, a16, w cuda.DevPtr, beta float32, c cuda.DevPtr) error {
	if !s.bf16() {
		return s.g.blas.MatMul(false, true, m, n, k, a, w, beta, c)
	}
	return s.g.blas.MatMulBF16(false, true, m, n, k, a16, s.g.weightBF16(w), beta, c)
}

// Logits copies the logits (B, V) of the last step to dst, waiting for it.
func (s *Stepper) Logits(dst []float32) error {
	n := s.B * s.g.Config.VocabSize
	if len(dst) < n {
		return fmt.Errorf("cudamodel: logits: buffer of %d values, want B·V = %d", len(dst), n)
	}
	return s.stream.CopyFromDevice(cuda.F32Bytes(dst[:n]), s.logits)
}

// Argmax returns the id of the largest logit of each row of the last step
// (ties to the lowest id, ids below the vocabulary limit), copying back 8
// bytes a row.
func (s *Stepper) Argmax(dst []int32) error {
	if len(dst) < s.B {
		return fmt.Errorf("cudamodel: argmax: buffer of %d, want %d", len(dst), s.B)
	}
	// The last step's keys: slot (pos − 1) % 2.
	if err := s.stream.CopyFromDevice(s.keys, s.keysAt((s.pos+1)%2)); err != nil {
		return err
	}
	for b := 0; b < s.B; b++ {
		var k uint64
		for i := 7; i >= 0; i-- {
			k = k<<8 | uint64(s.keys[8*b+i])
		}
		dst[b] = cudakernels.ArgmaxID(k)
	}
	return nil
}

// State copies the conv and SSM states to a backbone.State (backbone's
// layout), waiting for the last step. Rows with a pending reset are
// copied as they are on the device, not as zeros.
func (s *Stepper) State() (*backbone.State, error) {
	c := &s.g.Config
	_, _, Din, N, _, K, nL := dims(c)
	st := &backbone.State{B: s.B, Conv: make([]float32, nL*s.B*Din*(K-1)), SSM: make([]float32, nL*s.B*Din*N*cf(c))}
	if err := s.stream.CopyFromDevice(cuda.F32Bytes(st.Conv), s.conv); err != nil {
		return nil, err
	}
	return st, s.stream.CopyFromDevice(cuda.F32Bytes(st.SSM), s.ssm)
}

// Synchronize waits for the issued steps.
func (s *Stepper) Synchronize() error { return s.stream.Synchronize() }

// Stream is the stream the steps are issued on (for timing with events).
func (s *Stepper) Stream() *cuda.Stream { return s.stream }
