package kernels

import (
	"math"
	"unsafe"
)

// CrossEntropy returns the summed cross-entropy of the targets under the
// softmax of each logits row, and the number of rows counted:
//
//	loss = Σ_m [ logsumexp(logits[m,:]) − logits[m, target[m]] ]
//
// Rows whose target is negative are ignored (padding). When dlogits is
// non-nil it receives scale·(softmax(logits[m,:]) − onehot(target[m])),
// and zero on ignored rows; pass scale = 1/count for a mean loss.
// Shapes: logits, dlogits (M, V); targets (M). Targets must be < V.
// Sums are in float64; per-row losses are added in row order.
func CrossEntropy(dlogits, logits []float32, targets []int32, V int, scale float32) (loss float64, count int) {
	rowBuf := getF64(len(targets))
	defer putF64(rowBuf)
	rowLoss := *rowBuf
	CrossEntropyRows(rowLoss, dlogits, logits, targets, V, scale)
	for m, l := range rowLoss {
		if targets[m] >= 0 {
			loss += l
			count++
		}
	}
	return loss, count
}

// CrossEntropyRows is CrossEntropy with each row's loss (nats) in
// rowLoss (M), 0 on ignored rows: −rowLoss[m] is the log-probability of
// target[m]. Scoring and evaluation read per-token values from it.
func CrossEntropyRows(rowLoss []float64, dlogits, logits []float32, targets []int32, V int, scale float32) {
	M := len(targets)
	if len(rowLoss) < M || len(logits) < M*V || (dlogits != nil && len(dlogits) < M*V) {
		panic("kernels: cross-entropy: buffer too short")
	}
	for _, t := range targets {
		if int(t) >= V {
			panic("kernels: cross-entropy: target out of range")
		}
	}
	crossEntropyTeam.run(M, parts(M, 16), crossEntropyArgs{dlogits: dlogits, logits: logits, targets: targets, rowLoss: rowLoss, V: V, scale: scale, im: scanDefault})
}

// crossEntropyArgs is one CrossEntropy call; rowLoss (M) receives each
// row's loss.
type crossEntropyArgs struct {
	dlogits, logits []float32
	targets         []int32
	rowLoss         []float64
	V               int
	scale           float32
	im              *scanImpl // whose row kernels run (ceRow, ceScale), with the Go ones where it has none
}

var crossEntropyTeam team[crossEntropyArgs, *crossEntropyArgs]

func (a *crossEntropyArgs) part(_, lo, hi int) {
	V, logits, dlogits := a.V, a.logits, a.dlogits
	buf := getF32(V) // exp(logit − max) of one row
	defer putF32(buf)
	e := *buf
	for m := lo; m < hi; m++ {
		tgt := int(a.targets[m])
		row := logits[m*V : (m+1)*V]
		if tgt < 0 {
			a.rowLoss[m] = 0
			if dlogits != nil {
				clear(dlogits[m*V : (m+1)*V])
			}
			continue
		}
		rowK, scaleK := ceRowGo, ceScaleGo
		if im := a.im; im.ceRow != nil && V%im.width == 0 {
			rowK, scaleK = im.ceRow, im.ceScale
		}
		mx, sum := rowK(&e[0], &row[0], V)
		a.rowLoss[m] = math.Log(sum) - float64(row[tgt]-mx)
		if dlogits != nil {
			scaleK(&dlogits[m*V], &e[0], float32(float64(a.scale)/sum), V)
			dlogits[m*V+tgt] -= a.scale
		}
	}
}

// ceRowGo sets e[i] = exp(x[i] − mx) with mx = max_i x[i] (vexp) and
// returns mx and Σ_i e[i], summed in float64 in order; i < n, n > 0.
func ceRowGo(e, x *float32, n int) (mx float32, sum float64) {
	row, es := unsafe.Slice(x, n), unsafe.Slice(e, n)
	mx = row[0]
	for _, v := range row {
		mx = max(mx, v)
	}
	for i, v := range row {
		es[i] = v - mx
	}
	vexp(es, es)
	for _, v := range es {
		sum += float64(v)
	}
	return mx, sum
}

// ceScaleGo sets d[i] = e[i]·f, i < n: the softmax from its numerators
// (f = scale/sum).
func ceScaleGo(d, e *float32, f float32, n int) {
	ds, es := unsafe.Slice(d, n), unsafe.Slice(e, n)
	for i, v := range es {
		ds[i] = v * f
	}
}

// crossEntropyGeneric is the reference for CrossEntropy: single-threaded,
// float64 throughout, softmax by the definition.
func crossEntropyGeneric(dlogits, logits []float32, targets []int32, V int, scale float32) (loss float64, count int) {
	for m, tgt := range targets {
		row := logits[m*V : (m+1)*V]
		if tgt < 0 {
			if dlogits != nil {
				clear(dlogits[m*V : (m+1)*V])
			}
			continue
		}
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		loss += -(float64(row[tgt]) - mx - math.Log(z))
		count++
		if dlogits != nil {
			for i, v := range row {
				p := math.Exp(float64(v)-mx) / z
				if i == int(tgt) {
					p--
				}
				dlogits[m*V+i] = float32(float64(scale) * p)
			}
		}
	}
	return loss, count
}
