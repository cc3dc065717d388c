package train

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Data is one split of a prepared dataset in memory: the packed token
// stream and, for every position, whether a document starts there.
type Data struct {
	Tokens []int32
	Start  []bool // (len(Tokens)): true at the first token of each document
	// UnitsPerToken converts per-token losses to per-unit (byte, base,
	// sample) figures for this split.
	UnitsPerToken float64
	// Answer, when set (MarkAnswers), is true at the answer positions of
	// a task: those after the last answer marker of their document.
	// Evaluation then also reports the accuracy of the model's argmax there.
	Answer []bool
	// docEnd, when hasDocEnd (SetDocEnd), is the token that ends every
	// document: in training it predicts the next document's first token.
	docEnd    int32
	hasDocEnd bool
}

// SetDocEnd names the modality's end-of-document token (the plugin's
// Special "eos" or "sep"). Training then takes the first token of a
// document as the target of the end token before it, so that a model
// learns how documents begin and generation without a prompt can start
// from that token (session.StartToken). The state is still reset at the
// document start, and evaluation and the Markov baseline still score no
// first token.
func (d *Data) SetDocEnd(id int32) { d.docEnd, d.hasDocEnd = id, true }

// MarkAnswers sets Answer from a modality's answer marker token (the
// plugin's Special["answer"]).
func (d *Data) MarkAnswers(marker int32) {
	d.Answer = make([]bool, len(d.Tokens))
	end := len(d.Tokens)
	for s := len(d.Tokens) - 1; s >= 0; s-- { // walk documents from the last
		if !d.Start[s] {
			continue
		}
		for i := end - 1; i >= s; i-- {
			if d.Tokens[i] == marker {
				for j := i + 1; j < end; j++ {
					d.Answer[j] = true
				}
				break
			}
		}
		end = s
	}
}

// NewData builds a Data from a token stream and the offsets of its
// documents (ascending, the first 0).
func NewData(tokens []int32, docs []int64, unitsPerToken float64) *Data {
	d := &Data{Tokens: tokens, Start: make([]bool, len(tokens)), UnitsPerToken: unitsPerToken}
	for _, o := range docs {
		if o >= 0 && o < int64(len(tokens)) {
			d.Start[o] = true
		}
	}
	return d
}

// fill writes inputs, targets and reset flags for row r of b from the
// stream at position s (L+1 tokens must exist there). A target that would
// cross into the next document is ignored (−1): the model cannot know
// where the next document starts, and its state is reset there anyway;
// with crossEnd (training) the end-of-document token (SetDocEnd) is the
// exception, and predicts the first token of the next. In a task (Answer
// set), only the answer positions have targets, as in the paper's
// synthetic tasks.
func (d *Data) fill(b *backbone.Batch, r int, s int64, resetFirst, crossEnd bool) {
	L := b.L
	for t := 0; t < L; t++ {
		i := s + int64(t)
		b.Inputs[r*L+t] = d.Tokens[i]
		b.Reset[r*L+t] = d.Start[i] || (t == 0 && resetFirst)
		cross := d.Start[i+1] && !(crossEnd && d.hasDocEnd && d.Tokens[i] == d.docEnd)
		if cross || (d.Answer != nil && !d.Answer[i+1]) {
			// A target across a document start is unknowable; in a task
			// (Answer set) only the answers are trained and scored.
			b.Targets[r*L+t] = -1
		} else {
			b.Targets[r*L+t] = d.Tokens[i+1]
		}
	}
}

// Loader draws training batches from a Data, deterministically from its
// seed, and can save and restore its position exactly (the data cursor).
//
// Packed mode: each row is a window of L+1 tokens at a random offset;
// documents inside a window are kept apart by reset flags.
// TBPTT mode: row r walks the stream from offset r·T/B, L tokens per
// step, so the model can carry its state from one step to the next; a row
// that reaches the end wraps to its start with a reset.
type Loader struct {
	data  *Data
	B, L  int
	tbptt bool
	pcg   *rand.PCG
	rng   *rand.Rand
	pos   []int64 // TBPTT: next position of each row
}

// NewLoader returns a loader of B×L batches.
func NewLoader(d *Data, B, L int, tbptt bool, seed uint64) (*Loader, error) {
	T := int64(len(d.Tokens))
	need := int64(L + 1)
	if tbptt {
		need = int64(B) * int64(L+1)
	}
	if T < need {
		return nil, fmt.Errorf("the training split has %d tokens, fewer than the %d one batch needs (batch %d, seq_len %d): use more data or a shorter seq_len", T, need, B, L)
	}
	pcg := rand.NewPCG(seed, 0x64617461) // "data"
	l := &Loader{data: d, B: B, L: L, tbptt: tbptt, pcg: pcg, rng: rand.New(pcg)}
	if tbptt {
		l.pos = make([]int64, B)
		for r := range l.pos {
			l.pos[r] = T * int64(r) / int64(B)
		}
	}
	return l, nil
}

// NewBatch allocates a batch the loader can fill.
func (l *Loader) NewBatch() *backbone.Batch {
	n := l.B * l.L
	return &backbone.Batch{B: l.B, L: l.L, Inputs: make([]int32, n), Targets: make([]int32, n), Reset: make([]bool, n)}
}

// Next fills b with the next batch.
func (l *Loader) Next(b *backbone.Batch) {
	T := int64(len(l.data.Tokens))
	for r := 0; r < l.B; r++ {
		if !l.tbptt {
			s := l.rng.Int64N(T - int64(l.L))
			l.data.fill(b, r, s, true, true)
			continue
		}
		s, wrapped := l.pos[r], false
		if s+int64(l.L)+1 > T { // not enough left: wrap to the row's start
			s, wrapped = T*int64(r)/int64(l.B), true
		}
		l.data.fill(b, r, s, wrapped, true)
		l.pos[r] = s + int64(l.L)
	}
}

// MarshalBinary saves the loader's position: the generator's state and
// the rows' positions.
func (l *Loader) MarshalBinary() ([]byte, error) {
	g, err := l.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(g)))
	out = append(out, g...)
	for _, p := range l.pos {
		out = binary.LittleEndian.AppendUint64(out, uint64(p))
	}
	return out, nil
}

// UnmarshalBinary restores a position saved by MarshalBinary from a loader
// with the same data, batch shape and mode.
func (l *Loader) UnmarshalBinary(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("data cursor: %d bytes, too short", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) != 4+n+8*len(l.pos) {
		return fmt.Errorf("data cursor: %d bytes, want %d for %d rows (was the batch size or the mode changed?)", len(b), 4+n+8*len(l.pos), len(l.pos))
	}
	if err := l.pcg.UnmarshalBinary(b[4 : 4+n]); err != nil {
		return fmt.Errorf("data cursor: %w", err)
	}
	for r := range l.pos {
		l.pos[r] = int64(binary.LittleEndian.Uint64(b[4+n+8*r:]))
		if l.pos[r] < 0 || l.pos[r] > int64(len(l.data.Tokens)) {
			return fmt.Errorf("data cursor: row %d at %d, outside the %d-token split", r, l.pos[r], len(l.data.Tokens))
		}
	}
	return nil
}
