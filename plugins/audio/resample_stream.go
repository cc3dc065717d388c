package audio

// resampleStream runs a resampler over input that arrives in chunks (a
// decoder's frames), so a long file is never held whole as samples: it
// keeps only the input the filter still needs (2·half samples around the
// next output instant) and hands each output sample to a sink as soon as
// its window is complete. Its output is bit for bit that of resampling the
// whole input at once: the same coefficients, summed in the same order.
type resampleStream struct {
	r    *resampler
	sink func(float64) error
	x    []float64 // input samples base, base+1, … not yet consumed
	base int64
	n    int64 // index of the next output sample
	// The coefficient source: per-sample coefficients (direct) for an input
	// too short to pay for a table, else the table. Undecided until the
	// input is known to give at least rows() outputs, or ends.
	decided, direct bool
	h               []float64 // scratch coefficients (direct or interpolated)
}

// stream returns a resampleStream that passes each output sample to sink;
// an error from sink stops the stream and is returned by write or close.
func (r *resampler) stream(sink func(float64) error) *resampleStream {
	return &resampleStream{r: r, sink: sink, h: make([]float64, 2*r.half)}
}

// write adds input samples and emits every output whose window they complete.
func (s *resampleStream) write(x []float64) error {
	s.x = append(s.x, x...)
	total := s.base + int64(len(s.x))
	if !s.decided {
		if s.r.outLen64(total) < int64(s.r.rows()) {
			return nil // keep buffering: the input may still end short
		}
		s.decide(false)
	}
	return s.emit(total, false)
}

// close ends the input (the samples after it count as silence) and emits
// the remaining outputs.
func (s *resampleStream) close() error {
	total := s.base + int64(len(s.x))
	if !s.decided {
		s.decide(s.r.outLen64(total) < int64(s.r.rows()))
	}
	return s.emit(total, true)
}

func (s *resampleStream) decide(direct bool) {
	s.decided, s.direct = true, direct
	if !direct {
		s.r.buildTable()
	}
}

// emit computes outputs while their window lies within the input seen so
// far (or, at the end, up to the output length), then drops the input no
// later output needs.
func (s *resampleStream) emit(total int64, end bool) error {
	r := s.r
	w := 2 * r.half
	last := r.outLen64(total)
	for s.n < last {
		pos := s.n * int64(r.down)
		i0 := pos / int64(r.up)
		if !end && i0+int64(r.half) >= total {
			break // the window's last sample has not arrived yet
		}
		p := pos % int64(r.up)
		var h []float64
		switch {
		case s.direct:
			h = s.h
			r.coeffs(float64(p)/float64(r.up), h)
		case r.exact:
			h = r.table[int(p)*w : int(p+1)*w]
		default:
			// Blend the two grid phases around p/up.
			h = s.h
			g := float64(p) / float64(r.up) * float64(r.phases)
			k := min(int(g), r.phases-1)
			f := g - float64(k)
			h0, h1 := r.table[k*w:(k+1)*w], r.table[(k+1)*w:(k+2)*w]
			for j := range h {
				h[j] = h0[j] + f*(h1[j]-h0[j])
			}
		}
		first := i0 - int64(r.half) + 1
		lo, hi := max(0, -first), min(int64(w), total-first)
		var acc float64
		for j := lo; j < hi; j++ {
			acc += h[j] * s.x[first+j-s.base]
		}
		if err := s.sink(acc); err != nil {
			return err
		}
		s.n++
	}
	// Keep the input from the next output's first tap on; compact once the
	// dead prefix is at least half the buffer, so copying stays linear.
	keep := s.n*int64(r.down)/int64(r.up) - int64(r.half) + 1
	if d := keep - s.base; d > 0 && d >= int64(len(s.x))/2 {
		d = min(d, int64(len(s.x)))
		s.x = s.x[:copy(s.x, s.x[d:])]
		s.base += d
	}
	return nil
}
