package session

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// Scored sums up a file that Score wrote out.
type Scored struct {
	Tokens int     // tokens scored (all but the first)
	Bits   float64 // their negative log-probability in bits, in all
}

// Score encodes data (the file name) with the run's options and writes a
// CSV row per token to w: its position, id, decoded unit text, natural log
// probability and bits, in chunks of seqLen tokens with the state carried
// across chunks (train.Score).
func (c *Checkpoint) Score(ctx context.Context, name string, data []byte, seqLen int, w io.Writer) (Scored, error) {
	ids, err := c.Plugin.Encode(ctx, sdk.EncodeRequest{Data: data, Name: name, Options: c.Codec()})
	if err != nil {
		return Scored{}, fmt.Errorf("%s: %w", name, err)
	}
	vocab := c.Model.Config().VocabSize
	for i, id := range ids {
		if int(id) >= vocab {
			return Scored{}, fmt.Errorf("%s: token %d at position %d is outside the model's vocabulary of %d", name, id, i, vocab)
		}
	}
	units, err := UnitTexts(ctx, c.decode, c.unitInfo(), ids)
	if err != nil {
		return Scored{}, err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"position", "token", "decoded", "logprob_nats", "bits"})
	var nats float64
	err = train.Score(ctx, c.Model, ids, seqLen, func(t int, lp float64) error {
		nats -= lp
		return cw.Write([]string{strconv.Itoa(t), strconv.Itoa(int(ids[t])), units[ids[t]], strconv.FormatFloat(lp, 'f', 6, 64), strconv.FormatFloat(-lp/math.Ln2, 'f', 6, 64)})
	})
	if err != nil {
		return Scored{}, err
	}
	if cw.Flush(); cw.Error() != nil {
		return Scored{}, cw.Error()
	}
	return Scored{Tokens: len(ids) - 1, Bits: nats / math.Ln2}, nil
}
