package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// echo is a byte modality for exercising the wire.
type echo struct{}

func (echo) Describe(context.Context) (Info, error) {
	return Info{Name: "echo", Version: "1", Kind: KindDiscrete, VocabSize: 256}, nil
}

func (echo) Prepare(ctx context.Context, req PrepareRequest) (Dataset, error) {
	if req.Options["panic"] != "" {
		panic("prepare exploded")
	}
	<-ctx.Done()
	return Dataset{}, ctx.Err()
}

func (echo) Encode(_ context.Context, req EncodeRequest) (Tokens, error) {
	if len(req.Data) == 0 {
		return nil, errors.New("empty input")
	}
	ids := make(Tokens, len(req.Data))
	for i, b := range req.Data {
		ids[i] = int32(b)
	}
	return ids, nil
}

func (echo) Decode(_ context.Context, req DecodeRequest) ([]byte, error) {
	out := make([]byte, len(req.Tokens))
	for i, id := range req.Tokens {
		out[i] = byte(id)
	}
	return out, nil
}

func loopback(t testing.TB) Modality {
	c, stop, err := Loopback(echo{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return c
}

func TestLoopback(t *testing.T) {
	c := loopback(t)
	ctx := context.Background()
	info, err := c.Describe(ctx)
	if err != nil || info.ProtocolVersion != 1 || info.Name != "echo" {
		t.Errorf("Describe = %+v, %v (the SDK fills in the protocol version)", info, err)
	}
	// 8 MiB in, 32 MiB of tokens out: past gRPC's 4 MiB default both ways.
	data := bytes.Repeat([]byte{1, 2, 3, 250}, 2<<20)
	ids, err := c.Encode(ctx, EncodeRequest{Data: data})
	if err != nil || len(ids) != len(data) {
		t.Fatalf("Encode 8 MiB: %d tokens, %v", len(ids), err)
	}
	back, err := c.Decode(ctx, DecodeRequest{Tokens: ids})
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("Decode: %d bytes, %v", len(back), err)
	}
	_, err = c.Encode(ctx, EncodeRequest{})
	var re *RemoteError
	if !errors.As(err, &re) || err.Error() != "empty input" {
		t.Errorf("plugin error = %#v, want its message unchanged", err)
	}
	_, err = c.Prepare(ctx, PrepareRequest{Options: map[string]string{"panic": "1"}})
	if err == nil || !strings.Contains(err.Error(), "Prepare panicked: prepare exploded") {
		t.Errorf("panicking Prepare: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Prepare(cctx, PrepareRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Prepare: %v", err)
	}
	if _, err := c.Encode(ctx, EncodeRequest{Data: make([]byte, MaxMessageSize)}); err == nil || !strings.Contains(err.Error(), "use prepare") {
		t.Errorf("oversized Encode: %v", err)
	}
}

// BenchmarkLoopback measures the protocol's cost without the process
// boundary: small calls for latency, large ones for bytes/s.
func BenchmarkLoopback(b *testing.B) {
	c := loopback(b)
	ctx := context.Background()
	for _, size := range []int{16, 1 << 20} {
		data := bytes.Repeat([]byte{7}, size)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := c.Encode(ctx, EncodeRequest{Data: data}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
