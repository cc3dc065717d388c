package kernels

// EmbeddingForward gathers rows of the table: out[m,:] = table[ids[m],:].
// Shapes: ids (M); table (V, C); out (M, C). Every id must be in [0, V).
func EmbeddingForward(out, table []float32, ids []int32, V, C int) {
	if len(out) < len(ids)*C || len(table) < V*C {
		panic("kernels: embedding: buffer too short")
	}
	M := len(ids)
	parallel(M, parts(M, 64), func(_, lo, hi int) {
		for m := lo; m < hi; m++ {
			id := int(ids[m])
			if id < 0 || id >= V {
				panic("kernels: embedding: id out of range")
			}
			copy(out[m*C:(m+1)*C], table[id*C:(id+1)*C])
		}
	})
}

// EmbeddingBackward adds the gradient of every row to its table row:
// dtable[ids[m],:] += dout[m,:]. Work is split over columns, so each worker
// adds rows in the order of m and the result does not depend on timing.
func EmbeddingBackward(dtable, dout []float32, ids []int32, V, C int) {
	if len(dout) < len(ids)*C || len(dtable) < V*C {
		panic("kernels: embedding backward: buffer too short")
	}
	parallel(C, parts(C, 16), func(_, c0, c1 int) {
		for m, id := range ids {
			if id < 0 || int(id) >= V {
				panic("kernels: embedding backward: id out of range")
			}
			dst := dtable[int(id)*C+c0 : int(id)*C+c1]
			src := dout[m*C+c0 : m*C+c1]
			for i := range dst {
				dst[i] += src[i]
			}
		}
	})
}

// embeddingBackwardGeneric is the reference for EmbeddingBackward: rows in
// order, float64 sums.
func embeddingBackwardGeneric(dtable, dout []float32, ids []int32, V, C int) {
	acc := make([]float64, V*C)
	for i, v := range dtable[:V*C] {
		acc[i] = float64(v)
	}
	for m, id := range ids {
		for c := 0; c < C; c++ {
			acc[int(id)*C+c] += float64(dout[m*C+c])
		}
	}
	for i, v := range acc {
		dtable[i] = float32(v)
	}
}
