package nccl

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"
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
	d      *driver
	dev    int32
	ctx    uintptr
	comm   uintptr
	stream uintptr
	event  uintptr
	scalar uint64 // device buffer of scalarSlots float64s
	broken error  // set once a collective failed or was aborted
}

const scalarSlots = 16

// NewComm makes this process's communicator: rank of size ranks on GPU
// ordinal, all ranks passing the same id. It blocks until every rank has
// called it.
func NewComm(ordinal, rank, size int, id UniqueID) (*Comm, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("nccl: rank %d of %d: want 0 ≤ rank < size", rank, size)
	}
	a, err := load()
	if err != nil {
		return nil, err
	}
	d, err := loadDriver()
	if err != nil {
		return nil, err
	}
	c := &Comm{Rank: rank, Size: size, Device: ordinal, a: a, d: d}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.check(call(d.cuInit, 0), "cuInit"); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuDeviceGet, uintptr(unsafe.Pointer(&c.dev)), uintptr(ordinal)), fmt.Sprintf("cuDeviceGet(%d)", ordinal)); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&c.ctx)), uintptr(c.dev)), "cuDevicePrimaryCtxRetain"); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuCtxSetCurrent, c.ctx), "cuCtxSetCurrent"); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuStreamCreate, uintptr(unsafe.Pointer(&c.stream)), streamNonBlocking), "cuStreamCreate"); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuEventCreate, uintptr(unsafe.Pointer(&c.event)), eventDisableTiming), "cuEventCreate"); err != nil {
		return nil, err
	}
	if err := d.check(call(d.cuMemAlloc, uintptr(unsafe.Pointer(&c.scalar)), 8*scalarSlots), "cuMemAlloc"); err != nil {
		return nil, err
	}
	if err := forceNoNVLS(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("ncclCommInitRank(rank %d of %d, GPU %d)", rank, size, ordinal)
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

// enter locks the goroutine to its thread with the GPU's context current.
func (c *Comm) enter() func() {
	runtime.LockOSThread()
	if r := call(c.d.cuCtxSetCurrent, c.ctx); r != 0 {
		panic(c.d.check(r, "cuCtxSetCurrent"))
	}
	return runtime.UnlockOSThread
}

// AllReduceAfterDefault sums the ranges in place across ranks, on the
// communicator's stream, after the work issued so far on the legacy
// default stream (the backward pass that wrote them) and without holding
// back later default-stream work. It returns once the sums are enqueued.
func (c *Comm) AllReduceAfterDefault(ranges []Range) error {
	if c.broken != nil {
		return c.broken
	}
	defer c.enter()()
	if err := c.d.check(call(c.d.cuEventRecord, c.event, 0), "cuEventRecord"); err != nil {
		return err
	}
	if err := c.d.check(call(c.d.cuStreamWaitEvent, c.stream, c.event, 0), "cuStreamWaitEvent"); err != nil {
		return err
	}
	if err := c.a.check(call(c.a.groupStart), "ncclGroupStart", c.comm); err != nil {
		return err
	}
	var first error
	for _, rg := range ranges {
		if rg.N == 0 {
			continue
		}
		r := call(c.a.allReduce, uintptr(rg.Ptr), uintptr(rg.Ptr), uintptr(rg.N), typeFloat32, opSum, c.comm, c.stream)
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
			defer c.enter()()
			r := call(c.d.cuStreamQuery, c.stream)
			if r == 0 {
				return errDone
			}
			if r != cudaErrorNotReady {
				return c.d.check(r, "cuStreamQuery (NCCL stream)")
			}
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
	buf := make([]uint64, len(vals))
	for i, v := range vals {
		buf[i] = math.Float64bits(v)
	}
	err := func() error {
		defer c.enter()()
		if err := c.d.check(call(c.d.cuMemcpyHtoD, uintptr(c.scalar), uintptr(unsafe.Pointer(&buf[0])), uintptr(8*len(buf))), "cuMemcpyHtoD"); err != nil {
			return err
		}
		// A copy from pageable memory may return before its DMA ends: the
		// sum waits for the default stream, where the copy runs.
		if err := c.d.check(call(c.d.cuEventRecord, c.event, 0), "cuEventRecord"); err != nil {
			return err
		}
		if err := c.d.check(call(c.d.cuStreamWaitEvent, c.stream, c.event, 0), "cuStreamWaitEvent"); err != nil {
			return err
		}
		r := call(c.a.allReduce, uintptr(c.scalar), uintptr(c.scalar), uintptr(len(vals)), typeFloat64, opSum, c.comm, c.stream)
		return c.a.check(r, "ncclAllReduce(float64)", c.comm)
	}()
	if err != nil {
		c.broken = err
		return nil, err
	}
	if err := c.Wait(alive, timeout); err != nil {
		return nil, err
	}
	err = func() error {
		defer c.enter()()
		return c.d.check(call(c.d.cuMemcpyDtoH, uintptr(unsafe.Pointer(&buf[0])), uintptr(c.scalar), uintptr(8*len(buf))), "cuMemcpyDtoH")
	}()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(vals))
	for i := range out {
		out[i] = math.Float64frombits(buf[i])
	}
	return out, nil
}

// Abort ends the communicator at once, also with collectives in flight
// (after a rank was lost). It does not wait for the device.
func (c *Comm) Abort() {
	if c == nil || c.comm == 0 {
		return
	}
	defer c.enter()()
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
	defer c.enter()()
	var errs []error
	errs = append(errs, c.d.check(call(c.d.cuStreamSynchronize, c.stream), "cuStreamSynchronize"))
	errs = append(errs, c.a.check(call(c.a.commDestroy, c.comm), "ncclCommDestroy", 0))
	c.comm = 0
	errs = append(errs, c.d.check(call(c.d.cuMemFree, uintptr(c.scalar)), "cuMemFree"))
	errs = append(errs, c.d.check(call(c.d.cuEventDestroy, c.event), "cuEventDestroy"))
	errs = append(errs, c.d.check(call(c.d.cuStreamDestroy, c.stream), "cuStreamDestroy"))
	errs = append(errs, c.d.check(call(c.d.cuDevicePrimaryCtxRelease, uintptr(c.dev)), "cuDevicePrimaryCtxRelease"))
	return errors.Join(errs...)
}
