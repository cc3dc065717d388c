package cuda

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// CUDA graphs through the driver API: the launches issued on a stream
// between BeginCapture and EndCapture are recorded, not run, into a graph
// that is instantiated once and replayed with one cuGraphLaunch. A replay
// re-runs the kernels with the same arguments, so anything that changes
// per replay (a token id, a position) lives in device memory the kernels
// read.

// graphAPI holds the graph entry points of libcuda, resolved at first use
// (driver.go's table stays as it is: an old driver without them still
// opens, and only graphs are unavailable).
type graphAPI struct {
	begin, end, instantiate, launch, execDestroy, destroy uintptr
}

var graphs struct {
	once sync.Once
	api  *graphAPI
	err  error
}

func (d *Device) graphs() (*graphAPI, error) {
	graphs.once.Do(func() {
		g := &graphAPI{}
		var errs []error
		for _, e := range []struct {
			p    *uintptr
			name string
		}{
			{&g.begin, "cuStreamBeginCapture_v2"},
			{&g.end, "cuStreamEndCapture"},
			{&g.instantiate, "cuGraphInstantiateWithFlags"},
			{&g.launch, "cuGraphLaunch"},
			{&g.execDestroy, "cuGraphExecDestroy"},
			{&g.destroy, "cuGraphDestroy"},
		} {
			p, err := d.api.lib.sym(e.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			*e.p = p
		}
		if err := errors.Join(errs...); err != nil {
			graphs.err = fmt.Errorf("cuda: the driver lacks the graph entry points: %w", err)
			return
		}
		graphs.api = g
	})
	return graphs.api, graphs.err
}

// streamNonBlocking is CU_STREAM_NON_BLOCKING: the stream does not wait
// for the legacy default stream, nor it for the stream (a capture on a
// blocking stream is invalidated by any default-stream work).
const streamNonBlocking = 1

// NewStreamNonBlocking creates a stream that is not ordered with the
// default stream: work issued on the default stream before must be
// waited for (Device.Synchronize) before the stream reads its results.
func (d *Device) NewStreamNonBlocking() (*Stream, error) {
	defer d.enter()()
	s := &Stream{d: d}
	if err := d.api.check(ccall(d.api.cuStreamCreate, uintptr(unsafe.Pointer(&s.h)), streamNonBlocking), "cuStreamCreate(non-blocking)"); err != nil {
		return nil, err
	}
	return s, nil
}

// CopyToDevice copies src to dst on s, in order with the stream's work.
// From pageable memory the bytes are staged before the call returns, so
// src may be reused at once.
func (s *Stream) CopyToDevice(dst DevPtr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	defer s.d.enter()()
	return s.d.api.check(ccall(s.d.api.cuMemcpyHtoDAsync, uintptr(dst), uintptr(unsafe.Pointer(&src[0])), uintptr(len(src)), s.handle()),
		"cuMemcpyHtoDAsync(%d bytes)", len(src))
}

// CopyFromDevice copies len(dst) bytes at src to dst after the stream's
// earlier work, and waits for it.
func (s *Stream) CopyFromDevice(dst []byte, src DevPtr) error {
	if len(dst) == 0 {
		return nil
	}
	defer s.d.enter()()
	if err := s.d.api.check(ccall(s.d.api.cuMemcpyDtoHAsync, uintptr(unsafe.Pointer(&dst[0])), uintptr(src), uintptr(len(dst)), s.handle()),
		"cuMemcpyDtoHAsync(%d bytes)", len(dst)); err != nil {
		return err
	}
	return s.d.api.check(ccall(s.d.api.cuStreamSynchronize, s.handle()), "cuStreamSynchronize")
}

// Capture modes (CUstreamCaptureMode).
const captureRelaxed = 2

// Graph is an instantiated CUDA graph.
type Graph struct {
	d       *Device
	g, exec uintptr
}

// BeginCapture starts recording the work issued on s (which must not be
// the default stream). Every BeginCapture needs its EndCapture, also
// when an issue in between failed.
func (s *Stream) BeginCapture() error {
	if s == nil || s.h == 0 {
		return errors.New("cuda: begin capture: the default stream cannot be captured")
	}
	a, err := s.d.graphs()
	if err != nil {
		return err
	}
	defer s.d.enter()()
	return s.d.api.check(ccall(a.begin, s.h, captureRelaxed), "cuStreamBeginCapture")
}

// EndCapture ends the recording and instantiates the graph.
func (s *Stream) EndCapture() (*Graph, error) {
	a, err := s.d.graphs()
	if err != nil {
		return nil, err
	}
	defer s.d.enter()()
	g := &Graph{d: s.d}
	if err := s.d.api.check(ccall(a.end, s.h, uintptr(unsafe.Pointer(&g.g))), "cuStreamEndCapture"); err != nil {
		if g.g != 0 {
			ccall(a.destroy, g.g)
		}
		return nil, err
	}
	if err := s.d.api.check(ccall(a.instantiate, uintptr(unsafe.Pointer(&g.exec)), g.g, 0), "cuGraphInstantiateWithFlags"); err != nil {
		ccall(a.destroy, g.g)
		return nil, err
	}
	return g, nil
}

// Launch replays the graph on s.
func (g *Graph) Launch(s *Stream) error {
	a, err := g.d.graphs()
	if err != nil {
		return err
	}
	defer g.d.enter()()
	return g.d.api.check(ccall(a.launch, g.exec, s.handle()), "cuGraphLaunch")
}

// Destroy releases the graph and its instantiation.
func (g *Graph) Destroy() error {
	if g == nil || g.g == 0 {
		return nil
	}
	a, err := g.d.graphs()
	if err != nil {
		return err
	}
	defer g.d.enter()()
	var errs []error
	if g.exec != 0 {
		errs = append(errs, g.d.api.check(ccall(a.execDestroy, g.exec), "cuGraphExecDestroy"))
	}
	errs = append(errs, g.d.api.check(ccall(a.destroy, g.g), "cuGraphDestroy"))
	g.g, g.exec = 0, 0
	return errors.Join(errs...)
}
