package train

import "slices"

// Override sets the settings of c that set names (config.yaml keys, and
// "blas") to o's: the settings a command line gives win over those of a
// configuration file, and over a resumed run's recorded ones.
func (c *Config) Override(o Config, set map[string]bool) {
	for key, apply := range map[string]func(){
		"preset":       func() { c.Preset = o.Preset },
		"steps":        func() { c.Steps = o.Steps },
		"seq_len":      func() { c.SeqLen = o.SeqLen },
		"batch":        func() { c.Batch = o.Batch },
		"accum":        func() { c.Accum = o.Accum },
		"lr":           func() { c.LR = o.LR },
		"seed":         func() { c.Seed = o.Seed },
		"eval_every":   func() { c.EvalEvery = o.EvalEvery },
		"save_every":   func() { c.SaveEvery = o.SaveEvery },
		"threads":      func() { c.Threads = o.Threads },
		"tbptt":        func() { c.TBPTT = o.TBPTT },
		"nonselective": func() { c.NonSelective = o.NonSelective },
		"complex":      func() { c.Complex = o.Complex },
		"blas":         func() { c.BLAS = o.BLAS },
		"init_from":    func() { c.InitFrom = o.InitFrom },
	} {
		if set[key] {
			apply()
		}
	}
}

// Resumes reports whether a resumed run may take the setting key (a
// config.yaml key, or "blas") from the command line: one of Resumable, or
// the matrix-multiply back end, which is never recorded.
func Resumes(key string) bool { return key == "blas" || slices.Contains(Resumable, key) }
