package kernels

// EmbeddingForward gathers rows of the table: out[m,:] = table[ids[m],:].
// Shapes: ids (M); table (V, C); out (M, C). Every id must be in [0, V).
func EmbeddingForward(out, table []float32, ids []int32, V, C int) {
	if len(out) < len(ids)*C || len(table) < V*C {
		panic("kernels: embedding: buffer too short")
	}
	checkIDs(ids, V, "kernels: embedding: id out of range")
	M := len(ids)
	embeddingTeam.run(M, parts(M, 64), embeddingArgs{out: out, table: table, ids: ids, C: C})
}

// embeddingArgs is an EmbeddingForward call, or an EmbeddingBackward call
// when backward is set (parts are then column ranges).
type embeddingArgs struct {
	out, table []float32
	ids        []int32
	C          int
	backward   bool
}

var embeddingTeam team[embeddingArgs, *embeddingArgs]

func (a *embeddingArgs) part(_, lo, hi int) {
	C := a.C
	if a.backward {
		// a.table is the gradient table, a.out the row gradients; columns
		// [lo, hi), rows in the order of m.
		for m, id := range a.ids {
			dst := a.table[int(id)*C+lo : int(id)*C+hi]
			src := a.out[m*C+lo : m*C+hi]
			for i := range dst {
				dst[i] += src[i]
			}
		}
		return
	}
	for m := lo; m < hi; m++ {
		id := int(a.ids[m])
		copy(a.out[m*C:(m+1)*C], a.table[id*C:(id+1)*C])
	}
}

// checkIDs panics with msg when an id is outside [0, V).
func checkIDs(ids []int32, V int, msg string) {
	for _, id := range ids {
		if id < 0 || int(id) >= V {
			panic(msg)
		}
	}
}

// EmbeddingBackward adds the gradient of every row to its table row:
// dtable[ids[m],:] += dout[m,:]. Work is split over columns, so each worker
// adds rows in the order of m and the result does not depend on timing.
func EmbeddingBackward(dtable, dout []float32, ids []int32, V, C int) {
	if len(dout) < len(ids)*C || len(dtable) < V*C {
		panic("kernels: embedding backward: buffer too short")
	}
	checkIDs(ids, V, "kernels: embedding backward: id out of range")
	embeddingTeam.run(C, parts(C, 16), embeddingArgs{out: dout, table: dtable, ids: ids, C: C, backward: true})
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
