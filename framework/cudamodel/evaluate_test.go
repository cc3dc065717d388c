package cudamodel_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudamodel"
	"github.com/mambakit/mambakit/framework/train"
)

// TestEvaluateMatchesTrain: cudamodel's Evaluate against train.Evaluate on
// the CPU, on a stream of documents, with and without answer marks.
func TestEvaluateMatchesTrain(t *testing.T) {
	d, err := cuda.Open()
	if errors.Is(err, cuda.ErrNoDriver) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := backbone.NewConfig(61, 32, 2)
	m, err := backbone.New(c, 9)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cudamodel.New(d, m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := rand.New(rand.NewPCG(3, 4))
	n := 2000
	data := &train.Data{Tokens: make([]int32, n), Start: make([]bool, n), UnitsPerToken: 1}
	for i := range data.Tokens {
		data.Tokens[i] = int32(1 + r.IntN(59))
		data.Start[i] = i == 0 || r.IntN(150) == 0
		if data.Start[i] {
			data.Tokens[i] = 0
		}
	}
	for _, task := range []bool{false, true} {
		if task {
			for i := range data.Tokens {
				if !data.Start[i] && r.IntN(60) == 0 {
					data.Tokens[i] = 60 // answer marker
				}
			}
			data.MarkAnswers(60)
		}
		for _, bl := range [][2]int{{4, 64}, {3, 100}} {
			want, err := train.Evaluate(context.Background(), m, data, bl[0], bl[1], 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.Evaluate(context.Background(), data.Tokens, data.Start, data.Answer, bl[0], bl[1], 0)
			if err != nil {
				t.Fatal(err)
			}
			gn := got.Nats / float64(got.Tokens)
			t.Logf("task %v B %d L %d: cpu %d tokens %.8f nats, gpu %d tokens %.8f nats; answers %d/%d", task, bl[0], bl[1],
				want.Tokens, want.NatsPerToken, got.Tokens, gn, got.Answers, want.Answers)
			if got.Tokens != want.Tokens || math.Abs(gn-want.NatsPerToken) > 1e-5*want.NatsPerToken || got.Answers != want.Answers {
				t.Errorf("task %v B %d L %d: GPU %+v, CPU %+v", task, bl[0], bl[1], got, want)
			}
			if want.Answers > 0 && math.Abs(float64(got.Correct)/float64(got.Answers)-want.Accuracy) > 0.02 {
				t.Errorf("accuracy GPU %d/%d, CPU %.4f", got.Correct, got.Answers, want.Accuracy)
			}
		}
	}
}
