package train

import (
	"context"
	"fmt"
	"math"
)

// Markov is an order-K Markov model baseline: the count of each token after
// each context of K tokens in the training split, with add-½ smoothing:
//
//	P(x | ctx) = (count(ctx, x) + ½) / (count(ctx) + ½·V)
//
// Contexts never cross a document start (positions before it are a
// boundary symbol), and, like the model's evaluation, the first token of a
// document is not scored.
type Markov struct {
	Order int
	V     int
	next  map[uint64]uint32 // (context, token) → count
	ctx   map[uint64]uint32 // context → count
}

// MaxMarkovOrder is the largest order whose contexts fit a 64-bit key for
// vocabulary size V.
func MaxMarkovOrder(V int) int {
	k := int(64 / math.Log2(float64(V+2)))
	return k - 1 // one more symbol for the token itself
}

// key packs the context of position i: the K tokens before it, where
// positions before the start of i's document are the boundary symbol V.
// The symbol j steps back has weight (V+1)^(j-1).
func (m *Markov) key(d *Data, i int64) uint64 {
	base := uint64(m.V + 1)
	var k uint64
	w := uint64(1)
	inDoc := true
	for j := int64(1); j <= int64(m.Order); j++ {
		sym := uint64(m.V)
		if p := i - j; inDoc && p >= 0 {
			sym = uint64(d.Tokens[p])
			inDoc = !d.Start[p] // tokens before a document start are another document
		}
		k += sym * w
		w *= base
	}
	return k
}

// FitMarkov counts the training split.
func FitMarkov(ctx context.Context, d *Data, V, order int) (*Markov, error) {
	if order < 0 || order > MaxMarkovOrder(V) {
		return nil, fmt.Errorf("Markov order %d: want 0..%d for a vocabulary of %d", order, MaxMarkovOrder(V), V)
	}
	m := &Markov{Order: order, V: V, next: map[uint64]uint32{}, ctx: map[uint64]uint32{}}
	base := uint64(V + 1)
	for i := int64(1); i < int64(len(d.Tokens)); i++ {
		if i%(1<<20) == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if d.Start[i] {
			continue
		}
		k := m.key(d, i)
		m.ctx[k]++
		m.next[k*base+uint64(d.Tokens[i])]++
	}
	return m, nil
}

// Eval scores the validation split like Evaluate: nats per scored token and
// bits per unit; in a task (Answer set) only the answer positions.
func (m *Markov) Eval(d *Data) Eval {
	base := uint64(m.V + 1)
	var nats float64
	var n int64
	for i := int64(1); i < int64(len(d.Tokens)); i++ {
		if d.Start[i] || (d.Answer != nil && !d.Answer[i]) {
			continue
		}
		k := m.key(d, i)
		p := (float64(m.next[k*base+uint64(d.Tokens[i])]) + 0.5) / (float64(m.ctx[k]) + 0.5*float64(m.V))
		nats -= math.Log(p)
		n++
	}
	e := Eval{Tokens: n}
	if n > 0 {
		e.NatsPerToken = nats / float64(n)
		e.BitsPerUnit = e.NatsPerToken / math.Ln2 / d.UnitsPerToken
	}
	return e
}
