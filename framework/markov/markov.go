// Package markov is the baseline every model is held against: an order-K
// Markov model of a token stream, counted on the training split and
// scored on the validation split the way framework/train evaluates a
// model (contexts never cross a document start; a document's first token
// is not scored).
package markov

import (
	"context"
	"fmt"
	"math"
)

// Model is an order-K Markov model: the count of each token after each
// context of K tokens, with add-½ smoothing:
//
//	P(x | ctx) = (count(ctx, x) + ½) / (count(ctx) + ½·V)
//
// Positions before a document start are a boundary symbol.
type Model struct {
	Order int
	V     int
	next  map[uint64]uint32 // (context, token) → count
	ctx   map[uint64]uint32 // context → count
}

// MaxOrder is the largest order whose contexts fit a 64-bit key for
// vocabulary size V.
func MaxOrder(V int) int {
	k := int(64 / math.Log2(float64(V+2)))
	return k - 1 // one more symbol for the token itself
}

// key packs the context of position i: the K tokens before it, where
// positions before the start of i's document are the boundary symbol V.
// The symbol j steps back has weight (V+1)^(j-1).
func (m *Model) key(tokens []int32, start []bool, i int64) uint64 {
	base := uint64(m.V + 1)
	var k uint64
	w := uint64(1)
	inDoc := true
	for j := int64(1); j <= int64(m.Order); j++ {
		sym := uint64(m.V)
		if p := i - j; inDoc && p >= 0 {
			sym = uint64(tokens[p])
			inDoc = !start[p] // tokens before a document start are another document
		}
		k += sym * w
		w *= base
	}
	return k
}

// Fit counts a split: its tokens (ids below V) and document starts.
func Fit(ctx context.Context, tokens []int32, start []bool, V, order int) (*Model, error) {
	if order < 0 || order > MaxOrder(V) {
		return nil, fmt.Errorf("Markov order %d: want 0..%d for a vocabulary of %d", order, MaxOrder(V), V)
	}
	m := &Model{Order: order, V: V, next: map[uint64]uint32{}, ctx: map[uint64]uint32{}}
	base := uint64(V + 1)
	for i := int64(1); i < int64(len(tokens)); i++ {
		if i%(1<<20) == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if start[i] {
			continue
		}
		k := m.key(tokens, start, i)
		m.ctx[k]++
		m.next[k*base+uint64(tokens[i])]++
	}
	return m, nil
}

// Score returns the summed cross-entropy (nats) of a split's scored
// positions and their number; with answer non-nil (a task) only the answer
// positions are scored.
func (m *Model) Score(tokens []int32, start, answer []bool) (nats float64, n int64) {
	base := uint64(m.V + 1)
	for i := int64(1); i < int64(len(tokens)); i++ {
		if start[i] || (answer != nil && !answer[i]) {
			continue
		}
		k := m.key(tokens, start, i)
		p := (float64(m.next[k*base+uint64(tokens[i])]) + 0.5) / (float64(m.ctx[k]) + 0.5*float64(m.V))
		nats -= math.Log(p)
		n++
	}
	return nats, n
}
