package nccl

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/cuda"
)

// TestAllReduceGPUs sums buffers across every GPU of the machine, one
// communicator per GPU in one process (each rank a goroutine): the ranges
// summed in place after the default stream's work, then float64 host
// values. It skips without libnccl or with fewer than two GPUs.
func TestAllReduceGPUs(t *testing.T) {
	if _, err := Load(); err != nil {
		t.Skip(err)
	}
	var devs []*cuda.Device
	for i := 0; ; i++ {
		d, err := cuda.OpenDevice(i)
		if err != nil {
			if errors.Is(err, cuda.ErrNoDriver) {
				t.Skip(err)
			}
			break
		}
		devs = append(devs, d)
	}
	defer func() {
		for _, d := range devs {
			d.Close()
		}
	}()
	n := len(devs)
	if n < 2 {
		t.Skipf("%d GPU(s): the test needs two", n)
	}
	id, err := GetUniqueID()
	if err != nil {
		t.Fatal(err)
	}
	const N = 3<<20 + 5 // two ranges: [0, N/2) and [N/2, N)
	var wg sync.WaitGroup
	errs := make([]error, n)
	got := make([][]float32, n)
	sums := make([][]float64, n)
	t0 := time.Now()
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = func() error {
				c, err := NewComm(devs[r], r, n, id)
				if err != nil {
					return err
				}
				defer c.Destroy()
				x := make([]float32, N)
				for i := range x {
					x[i] = float32(r+1) * float32(i%1000)
				}
				b, err := devs[r].UploadF32(x)
				if err != nil {
					return err
				}
				defer b.Free()
				if err := c.AllReduceAfterDefault([]Range{{uint64(b.At(0)), N / 2}, {uint64(b.At(N / 2)), N - N/2}}); err != nil {
					return err
				}
				if err := c.Wait(nil, time.Minute); err != nil {
					return err
				}
				got[r] = make([]float32, N)
				if err := b.CopyToF32(got[r]); err != nil {
					return err
				}
				sums[r], err = c.SumFloat64([]float64{float64(r) + 0.25, 1}, nil, time.Minute)
				return err
			}()
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	scale := float32(n * (n + 1) / 2)
	for r := 0; r < n; r++ {
		for i, v := range got[r] {
			if want := scale * float32(i%1000); v != want {
				t.Fatalf("rank %d: element %d is %v, want %v", r, i, v, want)
			}
		}
		if want := float64(n*(n-1))/2 + 0.25*float64(n); math.Abs(sums[r][0]-want) > 0 || sums[r][1] != float64(n) {
			t.Fatalf("rank %d: float64 sums %v, want [%v %d]", r, sums[r], want, n)
		}
	}
	t.Logf("%d GPUs: %s; init, %d floats summed and checked in %v", n, fmt.Sprint(devs[0].Name), N, time.Since(t0).Round(time.Millisecond))
}
