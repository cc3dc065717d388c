package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestInfoConvert(t *testing.T) {
	tests := map[string]Info{
		"zero": {},
		"full": {Name: "text", Version: "1.0", ProtocolVersion: 1, Kind: KindContinuous, VocabSize: 50277,
			Special: map[string]int32{"eos": 0, "pad": 1}, Unit: "byte", UnitsPerToken: 3.9,
			FileTypes: []string{".txt", ".jsonl"}},
		"discrete": {Kind: KindDiscrete},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			pb, err := infoToProto(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := infoFromProto(pb)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(out) != fmt.Sprint(in) {
				t.Errorf("round trip\n%+v\n%+v", in, out)
			}
		})
	}
	if _, err := infoToProto(Info{Kind: "liquid"}); err == nil {
		t.Error("unknown kind: no error")
	}
	if _, err := infoFromProto(nil); err == nil {
		t.Error("nil: no error")
	}
}

func TestRequestConvert(t *testing.T) {
	for name, in := range map[string]PrepareRequest{
		"zero": {},
		"full": {Inputs: []string{"a", "b"}, OutDir: "o", Options: map[string]string{"k": "v"}, Seed: 1<<64 - 1, ValidFraction: 0.25},
	} {
		if out := prepareRequestFromProto(prepareRequestToProto(in)); !reflect.DeepEqual(out, in) {
			t.Errorf("%s: %+v -> %+v", name, in, out)
		}
	}
	if got := prepareRequestFromProto(nil); !reflect.DeepEqual(got, PrepareRequest{}) {
		t.Errorf("nil request: %+v", got)
	}
	for name, in := range map[string]Dataset{
		"zero": {},
		"full": {Dir: "/d", VocabSize: 7, Train: Split{"train.tokens", "train.docs", 10, 20, 2}, Valid: Split{"v", "vd", 1, 2, 1}, Artifacts: []string{"tokenizer.json"}},
	} {
		if out := datasetFromProto(datasetToProto(in)); !reflect.DeepEqual(out, in) {
			t.Errorf("%s: %+v -> %+v", name, in, out)
		}
	}
}

func TestTokensBytes(t *testing.T) {
	for name, ids := range map[string]Tokens{
		"nil":      nil,
		"zero":     {},
		"extremes": {0, 1, -1, 1<<31 - 1, -1 << 31, 256},
	} {
		b := tokensToBytes(ids)
		if len(b) != 4*len(ids) {
			t.Errorf("%s: %d bytes", name, len(b))
		}
		if len(ids) > 0 && (b[0] != byte(ids[0]) || b[3] != byte(uint32(ids[0])>>24)) {
			t.Errorf("%s: not little-endian: % x", name, b[:4])
		}
		back, err := tokensFromBytes(b)
		if err != nil || !reflect.DeepEqual(back, ids) {
			t.Errorf("%s: %v -> %v, %v", name, ids, back, err)
		}
	}
	if _, err := tokensFromBytes([]byte{1, 2, 3}); err == nil {
		t.Error("3 bytes: no error")
	}
}

func FuzzTokensFromBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := tokensFromBytes(b)
		if (err != nil) != (len(b)%4 != 0) {
			t.Fatalf("len %d: err %v", len(b), err)
		}
		if err == nil && string(tokensToBytes(ids)) != string(b) {
			t.Fatal("round trip differs")
		}
	})
}

func TestFromStatus(t *testing.T) {
	ctx := context.Background()
	for name, tt := range map[string]struct {
		err  error
		want string
	}{
		"plain":     {errors.New("x"), "x"},
		"unknown":   {status.Error(codes.Unknown, "bad file"), "bad file"},
		"canceled":  {status.Error(codes.Canceled, "whatever"), "context canceled"},
		"too large": {status.Error(codes.ResourceExhausted, "grpc: received message larger than max (300 vs. 268435456)"), "limit is 256 MiB per message"},
	} {
		if got := fromStatus(ctx, tt.err); got == nil || !strings.Contains(got.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, got, tt.want)
		}
	}
}
