package dashboard

import "testing"

// TestParseLine checks the one-pass metrics.jsonl reader on the lines
// train writes and on the ones it must refuse or read around.
func TestParseLine(t *testing.T) {
	for name, c := range map[string]struct {
		line string
		ok   bool
		want point
	}{
		"train":        {`{"step":3,"loss":5.49,"lr":0.0011,"grad_norm":1.96,"tokens_per_s":49638.8,"val_loss":5.35,"val_bits_per_unit":7.756,"sample":"runs/text/samples/step-00000003.txt"}`, true, point{step: 3, loss: 5.49, lr: 0.0011, grad: 1.96, tps: 49638.8, val: 7.756, hasVal: true}},
		"no val":       {`{"step":1,"loss":5.5}`, true, point{step: 1, loss: 5.5}},
		"spaces":       {`{ "step" : 2 , "loss" : 1e-3 }`, true, point{step: 2, loss: 1e-3}},
		"key in value": {`{"note":"\"loss\":9 \\","step":4,"loss":2}`, true, point{step: 4, loss: 2}},
		"val_loss":     {`{"step":5,"val_loss":3}`, true, point{step: 5}},
		"no step":      {`{"loss":5.5}`, false, point{}},
		"half step":    {`{"step":1.5,"loss":5.5}`, false, point{}},
		"negative":     {`{"step":-1}`, false, point{}},
		"cut":          {`{"step":7,"loss":5.`, false, point{}},
		"empty":        {``, false, point{}},
		"not json":     {`step 3 loss 5`, false, point{}},
	} {
		var p point
		ok := p.parse([]byte(c.line))
		if ok != c.ok || ok && p != c.want {
			t.Errorf("%s: parse(%s) = %v %+v, want %v %+v", name, c.line, ok, p, c.ok, c.want)
		}
	}
}
