package cuda

import "unsafe"

// Stream is a CUDA stream. The nil *Stream is the legacy default stream,
// which orders itself with every other blocking stream.
type Stream struct {
	d *Device
	h uintptr
}

// NewStream creates a stream that is ordered with the default stream.
func (d *Device) NewStream() (*Stream, error) {
	defer d.enter()()
	s := &Stream{d: d}
	if err := d.api.check(ccall(d.api.cuStreamCreate, uintptr(unsafe.Pointer(&s.h)), 0), "cuStreamCreate"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream) handle() uintptr {
	if s == nil {
		return 0
	}
	return s.h
}

// Handle is the stream's CUstream (0 for the default stream), for a
// library that takes one (NCCL); call it inside Device.MakeCurrent.
func (s *Stream) Handle() uintptr { return s.handle() }

// cudaErrorNotReady is CUDA_ERROR_NOT_READY: queried work still runs.
const cudaErrorNotReady = 600

// Query reports whether the stream's work has finished, without waiting;
// an error is one its work left.
func (s *Stream) Query() (done bool, err error) {
	defer s.d.enter()()
	r := ccall(s.d.api.cuStreamQuery, s.handle())
	if r == cudaErrorNotReady {
		return false, nil
	}
	return r == 0, s.d.api.check(r, "cuStreamQuery")
}

// WaitEvent makes the stream's later work wait for e's last Record (on
// the device: the call returns at once).
func (s *Stream) WaitEvent(e *Event) error {
	defer s.d.enter()()
	return s.d.api.check(ccall(s.d.api.cuStreamWaitEvent, s.handle(), e.h, 0), "cuStreamWaitEvent")
}

// Synchronize waits for the stream's work.
func (s *Stream) Synchronize() error {
	defer s.d.enter()()
	return s.d.api.check(ccall(s.d.api.cuStreamSynchronize, s.h), "cuStreamSynchronize")
}

// Destroy releases the stream.
func (s *Stream) Destroy() error {
	if s == nil || s.h == 0 {
		return nil
	}
	defer s.d.enter()()
	err := s.d.api.check(ccall(s.d.api.cuStreamDestroy, s.h), "cuStreamDestroy")
	s.h = 0
	return err
}

// Event is a CUDA event, for timing device work.
type Event struct {
	d *Device
	h uintptr
}

// NewEvent creates an event with timing.
func (d *Device) NewEvent() (*Event, error) { return d.newEvent(0) }

// eventDisableTiming is CU_EVENT_DISABLE_TIMING.
const eventDisableTiming = 2

// NewOrderEvent creates an event without timing, only to order streams
// (Stream.WaitEvent): cheaper to record and wait for.
func (d *Device) NewOrderEvent() (*Event, error) { return d.newEvent(eventDisableTiming) }

func (d *Device) newEvent(flags uintptr) (*Event, error) {
	defer d.enter()()
	e := &Event{d: d}
	if err := d.api.check(ccall(d.api.cuEventCreate, uintptr(unsafe.Pointer(&e.h)), flags), "cuEventCreate(flags %d)", flags); err != nil {
		return nil, err
	}
	return e, nil
}

// Record records the event on s (nil: the default stream).
func (e *Event) Record(s *Stream) error {
	defer e.d.enter()()
	return e.d.api.check(ccall(e.d.api.cuEventRecord, e.h, s.handle()), "cuEventRecord")
}

// Synchronize waits for the event.
func (e *Event) Synchronize() error {
	defer e.d.enter()()
	return e.d.api.check(ccall(e.d.api.cuEventSynchronize, e.h), "cuEventSynchronize")
}

// ElapsedMs returns the milliseconds from start to end (both recorded and
// complete).
func ElapsedMs(start, end *Event) (float32, error) {
	defer start.d.enter()()
	var ms float32
	err := start.d.api.check(ccall(start.d.api.cuEventElapsedTime, uintptr(unsafe.Pointer(&ms)), start.h, end.h), "cuEventElapsedTime")
	return ms, err
}

// Destroy releases the event.
func (e *Event) Destroy() error {
	if e == nil || e.h == 0 {
		return nil
	}
	defer e.d.enter()()
	err := e.d.api.check(ccall(e.d.api.cuEventDestroy, e.h), "cuEventDestroy")
	e.h = 0
	return err
}
