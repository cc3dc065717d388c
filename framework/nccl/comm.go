package nccl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/mambakit/mambakit/framework/cuda"
)

// IDBytes is the size of an ncclUniqueId.
const IDBytes = 128

// UniqueID is the opaque id rank 0 makes and hands to every rank.
type UniqueID [IDBytes]byte

// NCCL data types and reduction (ncclDataType_t, ncclRedOp_t).
const (
	typeFloat32 = 7
	typeFloat64 = 8
	opSum       = 0
)

// GetUniqueID makes a new unique id (rank 0 does, once per job).
func GetUniqueID() (UniqueID, error) {
	var id UniqueID
	a, err := load()
	if err != nil {
		return id, err
	}
	return id, a.check(call(a.getUniqueID, uintptr(unsafe.Pointer(&id[0]))), "ncclGetUniqueId", 0)
}

// Range is a run of float32 elements in device memory.
type Range struct {
	Ptr uint64 // device address of the first element
	N   int    // elements
}

// Comm is one rank's communicator on one GPU, with a non-blocking stream
// for its collectives.
type Comm struct {
	Rank, Size, Device int

	a      *api
	dev    *cuda.Device
	comm   uintptr
	stream *cuda.Stream // non-blocking: not ordered with the default stream
	event  *cuda.Event  // orders the stream after the default stream's work
	scalar *cuda.Buffer // scalarSlots float64s
	broken error        // set once a collective failed or was aborted
}

const scalarSlots = 16

// NewComm makes this process's communicator: rank of size ranks on the
// GPU dev, all ranks passing the same id. It blocks until every rank has
// called it. The communicator uses dev's context; close dev after
// Destroy.
func NewComm(dev *cuda.Device, rank, size int, id UniqueID) (c *Comm, err error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("nccl: rank %d of %d: want 0 ≤ rank < size", rank, size)
	}
	a, err := load()
	if err != nil {
		return nil, err
	}
	c = &Comm{Rank: rank, Size: size, Device: dev.Ordinal(), a: a, dev: dev}
	defer func() {
		if err != nil {
			c.freeCUDA()
		}
	}()
	if c.stream, err = dev.NewStreamNonBlocking(); err != nil {
		return nil, err
	}
	if c.event, err = dev.NewOrderEvent(); err != nil {
		return nil, err
	}
	if c.scalar, err = dev.Alloc(8 * scalarSlots); err != nil {
		return nil, err
	}
	if err := forceNoNVLS(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("ncclCommInitRank(rank %d of %d, GPU %d)", rank, size, c.Device)
	defer dev.MakeCurrent()()
	var r int
	if a.commInitRankScalable != 0 {
		r = call(a.commInitRankScalable, uintptr(unsafe.Pointer(&c.comm)), uintptr(size), uintptr(rank), 1, uintptr(unsafe.Pointer(&id[0])), 0)
	} else {
		var arg uniqueIDArg
		*(*UniqueID)(unsafe.Pointer(&arg)) = id
		r = int(a.initByValue(&c.comm, int32(size), arg, int32(rank)))
	}
	if err := a.check(r, op, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// freeCUDA releases the communicator's stream, event and buffer.
func (c *Comm) freeCUDA() error {
	return errors.Join(c.scalar.Free(), c.event.Destroy(), c.stream.Destroy())
}

// afterDefault makes the communicator's stream wait for the work issued
// so far on the default stream.
func (c *Comm) afterDefault() error {
	if err := c.event.Record(nil); err != nil {
		return err
	}
	return c.stream.WaitEvent(c.event)
}

// AllReduceAfterDefault sums the ranges in place across ranks, on the
// communicator's stream, after the work issued so far on the legacy
// default stream (the backward pass that wrote them) and without holding
// back later default-stream work. It returns once the sums are enqueued.
func (c *Comm) AllReduceAfterDefault(ranges []Range) error {
	if c.broken != nil {
		return c.broken
	}
	if err := c.afterDefault(); err != nil {
		return err
	}
	defer c.dev.MakeCurrent()()
	if err := c.a.check(call(c.a.groupStart), "ncclGroupStart", c.comm); err != nil {
		return err
	}
	var first error
	for _, rg := range ranges {
		if rg.N == 0 {
			continue
		}
		r := call(c.a.allReduce, uintptr(rg.Ptr), uintptr(rg.Ptr), uintptr(rg.N), typeFloat32, opSum, c.comm, c.stream.Handle())
		if err := c.a.check(r, fmt.Sprintf("ncclAllReduce(%d floats)", rg.N), c.comm); err != nil && first == nil {
			first = err
		}
	}
	if err := c.a.check(call(c.a.groupEnd), "ncclGroupEnd", c.comm); err != nil && first == nil {
		first = err
	}
	if first != nil {
		c.broken = first
	}
	return first
}

// Wait waits until the communicator's stream has finished its work. It
// polls, so that a failure elsewhere ends the wait: alive (when not nil)
// reports a lost rank, NCCL's asynchronous error a broken link; timeout
// (0: none) bounds the wait. On any of them the communicator is aborted
// and the error returned.
func (c *Comm) Wait(alive func() error, timeout time.Duration) error {
	if c.broken != nil {
		return c.broken
	}
	start := time.Now()
	for i := 0; ; i++ {
		err := func() error {
			done, err := c.stream.Query()
			if err != nil {
				return fmt.Errorf("nccl: the collectives' stream: %w", err)
			}
			if done {
				return errDone
			}
			defer c.dev.MakeCurrent()()
			var ae int32
			if err := c.a.check(call(c.a.commGetAsyncError, c.comm, uintptr(unsafe.Pointer(&ae))), "ncclCommGetAsyncError", c.comm); err != nil {
				return err
			}
			if ae != success && ae != inProgress {
				return c.a.check(int(ae), "collective (asynchronous error)", c.comm)
			}
			return nil
		}()
		if err == errDone {
			return nil
		}
		if err == nil && alive != nil {
			err = alive()
		}
		if err == nil && timeout > 0 && time.Since(start) > timeout {
			err = fmt.Errorf("nccl: a collective did not complete within %v (a rank stopped or is stuck; MAMBAKIT_DIST_TIMEOUT sets the limit)", timeout)
		}
		if err != nil {
			c.broken = err
			c.Abort()
			return err
		}
		if i < 200 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

var errDone = errors.New("done")

// SumFloat64 sums vals element-wise across ranks (at most 16 values) and
// returns the sums, waiting as Wait does. Collectives enqueued before it
// finish first.
func (c *Comm) SumFloat64(vals []float64, alive func() error, timeout time.Duration) ([]float64, error) {
	if len(vals) == 0 || len(vals) > scalarSlots {
		return nil, fmt.Errorf("nccl: SumFloat64 of %d values: want 1 to %d", len(vals), scalarSlots)
	}
	if c.broken != nil {
		return nil, c.broken
	}
	buf := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	err := func() error {
		if err := c.scalar.CopyFromBytes(buf); err != nil {
			return err
		}
		// A copy from pageable memory may return before its DMA ends: the
		// sum waits for the default stream, where the copy runs.
		if err := c.afterDefault(); err != nil {
			return err
		}
		defer c.dev.MakeCurrent()()
		r := call(c.a.allReduce, uintptr(c.scalar.Ptr()), uintptr(c.scalar.Ptr()), uintptr(len(vals)), typeFloat64, opSum, c.comm, c.stream.Handle())
		return c.a.check(r, "ncclAllReduce(float64)", c.comm)
	}()
	if err != nil {
		c.broken = err
		return nil, err
	}
	if err := c.Wait(alive, timeout); err != nil {
		return nil, err
	}
	if err := c.stream.CopyFromDevice(buf, c.scalar.Ptr()); err != nil {
		return nil, err
	}
	out := make([]float64, len(vals))
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	return out, nil
}

// Abort ends the communicator at once, also with collectives in flight
// (after a rank was lost). It does not wait for the device.
func (c *Comm) Abort() {
	if c == nil || c.comm == 0 {
		return
	}
	defer c.dev.MakeCurrent()()
	call(c.a.commAbort, c.comm)
	c.comm = 0
	if c.broken == nil {
		c.broken = errors.New("nccl: communicator aborted")
	}
}

// Destroy frees the communicator after its work finished (a normal end).
func (c *Comm) Destroy() error {
	if c == nil || c.comm == 0 {
		return nil
	}
	errs := []error{c.stream.Synchronize()}
	func() {
		defer c.dev.MakeCurrent()()
		errs = append(errs, c.a.check(call(c.a.commDestroy, c.comm), "ncclCommDestroy", 0))
	}()
	c.comm = 0
	errs = append(errs, c.freeCUDA())
	return errors.Join(errs...)
}
