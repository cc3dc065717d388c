package cuda

import (
	"strings"
	"testing"
	"testing/fstest"
)

// testSources is a two-file set: a kernel that includes a header that
// includes another, and the second header included twice.
var testSources = NewSources("test", fstest.MapFS{
	"a.cuh": {Data: []byte("#include \"b.cuh\"\n__device__ float twice(float x) { return 2.f * x; }\n")},
	"b.cuh": {Data: []byte("typedef unsigned char u8;\n")},
	"k.cu": {Data: []byte(`#include "a.cuh"
  #  include "b.cuh"
// k doubles n floats and adds add.
extern "C" __global__ void k(float* x, long long n, float add) {
	long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (i < n) x[i] = twice(x[i]) + add;
}
`)},
	"notes.txt": {Data: []byte("not CUDA")},
})

func TestSources(t *testing.T) {
	if got := strings.Join(testSources.Files(), ","); got != "k.cu" {
		t.Errorf("files %q", got)
	}
	if got := strings.Join(testSources.Headers(), ","); got != "a.cuh,b.cuh" {
		t.Errorf("headers %q", got)
	}
	src, err := testSources.Source("k.cu")
	if err != nil {
		t.Fatal(err)
	}
	want := `#line 1 "k.cu"
#line 1 "a.cuh"
#line 1 "b.cuh"
typedef unsigned char u8;
#line 2 "a.cuh"
__device__ float twice(float x) { return 2.f * x; }
#line 2 "k.cu"
#line 3 "k.cu"
// k doubles n floats and adds add.
`
	if !strings.HasPrefix(src, want) {
		t.Errorf("expanded source:\n%s\nwant it to begin with:\n%s", src, want)
	}
	if strings.Count(src, "typedef") != 1 {
		t.Error("a header included twice is expanded twice")
	}
	for _, bad := range []string{"nope.cu", "a.cuh", "notes.txt"} {
		if _, err := testSources.Source(bad); err == nil {
			t.Errorf("Source(%q) accepted", bad)
		}
	}
	missing := NewSources("m", fstest.MapFS{"m.cu": {Data: []byte("#include \"gone.cuh\"\n")}})
	if _, err := missing.Source("m.cu"); err == nil || !strings.Contains(err.Error(), "m.cu:1") {
		t.Errorf("missing header: %v", err)
	}
	for line, want := range map[string]string{`#include "x.cuh"`: "x.cuh", ` # include  "y.cuh" `: "y.cuh", `#include <z.h>`: "", `// #include "c.cuh"`: ""} {
		if got, _ := includeName(line); got != want {
			t.Errorf("includeName(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestRuntimeGPU compiles the test set, launches its kernel on a stream of
// its own ordered after the default stream by an event, and reads the
// result back: the runtime's path from a package's sources to a launch,
// and the stream calls framework/nccl uses.
func TestRuntimeGPU(t *testing.T) {
	d := openOrSkip(t)
	const n = 1000
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)
	}
	buf, err := d.UploadF32(x)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Free()
	f, err := d.Kernel(testSources, "k.cu", "k")
	if err != nil {
		t.Fatal(err)
	}
	if f2, err := d.Kernel(testSources, "k.cu", "k"); err != nil || f2 != f {
		t.Errorf("the module is not kept: %v", err)
	}
	s, err := d.NewStreamNonBlocking()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	ev, err := d.NewOrderEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Destroy()
	if err := d.Fill32(buf.At(0), 0x3f800000, 1); err != nil { // x[0] = 1 on the default stream
		t.Fatal(err)
	}
	if err := ev.Record(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitEvent(ev); err != nil {
		t.Fatal(err)
	}
	if err := f.Launch(d.GridFor(n, 128), Dim3{X: 128}, 0, s, buf, int64(n), float32(0.5)); err != nil {
		t.Fatal(err)
	}
	for {
		done, err := s.Query()
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
	}
	got := make([]float32, n)
	if err := s.CopyFromDevice(F32Bytes(got), buf.Ptr()); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		want := 2*x[i] + 0.5
		if i == 0 {
			want = 2.5
		}
		if v != want {
			t.Fatalf("x[%d] = %v, want %v", i, v, want)
		}
	}
}
