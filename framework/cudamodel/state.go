package cudamodel

import (
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

// State is the recurrent state of B rows on the device, in
// backbone.State's layout, carried from one Forward to the next. Two
// copies alternate (the kernels read one and write the other).
type State struct {
	B        int
	dev      *cuda.Device
	buf      *cuda.Buffer
	conv     [2]cuda.DevPtr // (nL, B, Din, K−1)
	ssm      [2]cuda.DevPtr // (nL, B, Din, cf·N)
	cur      int
	convLen  int
	ssmLen   int
	layerCvL int
	layerSsL int
}

// NewState returns a zero state of B rows.
func (g *Model) NewState(B int) (*State, error) {
	_, _, Din, N, _, K, nL := dims(&g.Config)
	s := &State{B: B, dev: g.dev.Device, layerCvL: B * Din * (K - 1), layerSsL: B * Din * N * cf(&g.Config)}
	s.convLen, s.ssmLen = nL*s.layerCvL, nL*s.layerSsL
	pad := func(n int) int { return (n + 63) / 64 * 64 }
	buf, err := g.dev.AllocF32(2*pad(s.convLen) + 2*pad(s.ssmLen))
	if err != nil {
		return nil, err
	}
	s.buf = buf
	off := 0
	for i := 0; i < 2; i++ {
		s.conv[i] = buf.At(off)
		off += pad(s.convLen)
		s.ssm[i] = buf.At(off)
		off += pad(s.ssmLen)
	}
	if err := buf.Fill32(0); err != nil {
		buf.Free()
		return nil, err
	}
	return s, nil
}

// Free releases the state's device memory.
func (s *State) Free() error { return s.buf.Free() }

// Rows is the number of rows the state is for.
func (s *State) Rows() int { return s.B }

// CopyTo copies the state to dst (backbone's layout, the same rows).
func (s *State) CopyTo(dst *backbone.State) error {
	if err := s.check(dst); err != nil {
		return err
	}
	if err := s.dev.DownloadF32(dst.Conv, s.conv[s.cur]); err != nil {
		return err
	}
	return s.dev.DownloadF32(dst.SSM, s.ssm[s.cur])
}

// CopyFrom sets the state to src (backbone's layout, the same rows).
func (s *State) CopyFrom(src *backbone.State) error {
	if err := s.check(src); err != nil {
		return err
	}
	if err := s.dev.CopyF32To(s.conv[s.cur], src.Conv); err != nil {
		return err
	}
	return s.dev.CopyF32To(s.ssm[s.cur], src.SSM)
}

func (s *State) check(h *backbone.State) error {
	if h.B != s.B || len(h.Conv) != s.convLen || len(h.SSM) != s.ssmLen {
		return fmt.Errorf("cudamodel: state of %d rows (conv %d, ssm %d values); the host state has %d rows (%d, %d)", s.B, s.convLen, s.ssmLen, h.B, len(h.Conv), len(h.SSM))
	}
	return nil
}
