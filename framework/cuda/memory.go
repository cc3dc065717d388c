package cuda

import (
	"fmt"
	"unsafe"
)

// DevPtr is a device address (CUdeviceptr); 0 stands for an absent
// optional argument.
type DevPtr uint64

// Buffer is device memory from cuMemAlloc.
type Buffer struct {
	d     *Device
	ptr   DevPtr
	bytes int
}

// Alloc allocates bytes of device memory (at least 1).
func (d *Device) Alloc(bytes int) (*Buffer, error) {
	if bytes < 0 {
		return nil, fmt.Errorf("cuda: alloc of %d bytes", bytes)
	}
	defer d.enter()()
	var p uint64
	n := max(bytes, 1)
	if err := d.api.check(ccall(d.api.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(n)), "cuMemAlloc(%d bytes)", n); err != nil {
		return nil, err
	}
	return &Buffer{d: d, ptr: DevPtr(p), bytes: bytes}, nil
}

// AllocF32 allocates n float32s.
func (d *Device) AllocF32(n int) (*Buffer, error) { return d.Alloc(4 * n) }

// UploadF32 allocates a buffer holding a copy of x.
func (d *Device) UploadF32(x []float32) (*Buffer, error) {
	b, err := d.AllocF32(len(x))
	if err != nil {
		return nil, err
	}
	if err := b.CopyFromF32(x); err != nil {
		b.Free()
		return nil, err
	}
	return b, nil
}

// UploadBF16 allocates a buffer holding a copy of x, bfloat16 bit
// patterns (kernels.ToBF16), 2 bytes an element.
func (d *Device) UploadBF16(x []uint16) (*Buffer, error) {
	b, err := d.Alloc(2 * len(x))
	if err != nil {
		return nil, err
	}
	if len(x) == 0 {
		return b, nil
	}
	if err := b.CopyFromBytes(unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 2*len(x))); err != nil {
		b.Free()
		return nil, err
	}
	return b, nil
}

// Free releases the memory; a freed or nil buffer is left alone.
func (b *Buffer) Free() error {
	if b == nil || b.ptr == 0 {
		return nil
	}
	defer b.d.enter()()
	err := b.d.api.check(ccall(b.d.api.cuMemFree, uintptr(b.ptr)), "cuMemFree")
	b.ptr = 0
	return err
}

// Ptr is the buffer's device address; 0 for a nil buffer.
func (b *Buffer) Ptr() DevPtr {
	if b == nil {
		return 0
	}
	return b.ptr
}

// At is the address of float32 element i.
func (b *Buffer) At(i int) DevPtr { return b.ptr + DevPtr(4*i) }

// Bytes is the buffer's size.
func (b *Buffer) Bytes() int { return b.bytes }

// Len32 is the number of 4-byte elements it holds.
func (b *Buffer) Len32() int { return b.bytes / 4 }

func (b *Buffer) fits(bytes int, op string) error {
	if b == nil || b.ptr == 0 {
		return fmt.Errorf("cuda: %s: nil or freed buffer", op)
	}
	if bytes > b.bytes {
		return fmt.Errorf("cuda: %s: %d bytes into a buffer of %d", op, bytes, b.bytes)
	}
	return nil
}

// CopyFromBytes copies src to the start of the buffer (synchronous).
func (b *Buffer) CopyFromBytes(src []byte) error {
	if err := b.fits(len(src), "copy to device"); err != nil || len(src) == 0 {
		return err
	}
	defer b.d.enter()()
	return b.d.api.check(ccall(b.d.api.cuMemcpyHtoD, uintptr(b.ptr), uintptr(unsafe.Pointer(&src[0])), uintptr(len(src))), "cuMemcpyHtoD(%d bytes)", len(src))
}

// CopyToBytes copies the start of the buffer to dst (synchronous: it waits
// for earlier work on the default stream).
func (b *Buffer) CopyToBytes(dst []byte) error {
	if err := b.fits(len(dst), "copy from device"); err != nil || len(dst) == 0 {
		return err
	}
	defer b.d.enter()()
	return b.d.api.check(ccall(b.d.api.cuMemcpyDtoH, uintptr(unsafe.Pointer(&dst[0])), uintptr(b.ptr), uintptr(len(dst))), "cuMemcpyDtoH(%d bytes)", len(dst))
}

// F32Bytes views x as its bytes (no copy), for the stream copies.
func F32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// I32Bytes views x as its bytes (no copy), for the stream copies.
func I32Bytes(x []int32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// CopyFromF32 copies x to the start of the buffer.
func (b *Buffer) CopyFromF32(x []float32) error { return b.CopyFromBytes(F32Bytes(x)) }

// CopyToF32 copies the start of the buffer into x.
func (b *Buffer) CopyToF32(x []float32) error { return b.CopyToBytes(F32Bytes(x)) }

// CopyFromI32 copies x to the start of the buffer.
func (b *Buffer) CopyFromI32(x []int32) error { return b.CopyFromBytes(I32Bytes(x)) }

// CopyToI32 copies the start of the buffer into x.
func (b *Buffer) CopyToI32(x []int32) error { return b.CopyToBytes(I32Bytes(x)) }

// CopyFromBool copies x as bytes 0 and 1.
func (b *Buffer) CopyFromBool(x []bool) error {
	v := make([]byte, len(x))
	for i, t := range x {
		if t {
			v[i] = 1
		}
	}
	return b.CopyFromBytes(v)
}

// Fill32 sets every 4-byte word of the buffer to the bits v (0 for zeros,
// math.Float32bits(x) for a float), on the default stream.
func (b *Buffer) Fill32(v uint32) error {
	if err := b.fits(0, "fill"); err != nil {
		return err
	}
	defer b.d.enter()()
	return b.d.api.check(ccall(b.d.api.cuMemsetD32Async, uintptr(b.ptr), uintptr(v), uintptr(b.bytes/4), 0), "cuMemsetD32")
}

// CopyDtoD copies bytes from src to dst on the default stream.
func (d *Device) CopyDtoD(dst, src DevPtr, bytes int) error {
	defer d.enter()()
	return d.api.check(ccall(d.api.cuMemcpyDtoDAsync, uintptr(dst), uintptr(src), uintptr(bytes), 0), "cuMemcpyDtoD(%d bytes)", bytes)
}

// View is a Buffer over bytes at p, inside memory owned elsewhere: never
// free it.
func (d *Device) View(p DevPtr, bytes int) *Buffer { return &Buffer{d: d, ptr: p, bytes: bytes} }

// DownloadF32 copies len(x) float32s at p (inside a buffer) to x.
func (d *Device) DownloadF32(x []float32, p DevPtr) error {
	return d.View(p, 4*len(x)).CopyToF32(x)
}

// CopyF32To copies x to the device at p (inside a buffer).
func (d *Device) CopyF32To(p DevPtr, x []float32) error {
	return d.View(p, 4*len(x)).CopyFromF32(x)
}

// CopyI32To copies x to the device at p.
func (d *Device) CopyI32To(p DevPtr, x []int32) error {
	return d.View(p, 4*len(x)).CopyFromI32(x)
}

// CopyBoolTo copies x to the device at p, one byte each (1: true).
func (d *Device) CopyBoolTo(p DevPtr, x []bool) error {
	return d.View(p, len(x)).CopyFromBool(x)
}

// Fill32 sets n 32-bit words at p (inside a buffer) to v.
func (d *Device) Fill32(p DevPtr, v uint32, n int) error {
	if n <= 0 {
		return nil
	}
	return d.View(p, 4*n).Fill32(v)
}
