package main

import (
	"context"
	"testing"

	"github.com/mambakit/mambakit/sdk"
	"github.com/mambakit/mambakit/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, synthetic{}, sdktest.Samples{Files: []string{"testdata/small.task"}, Lossy: true,
		Bad: map[string][]byte{"bad.task": []byte("task=flying\n"), "junk.task": []byte("task=induction-heads\nlength=x\n"), "empty.task": nil}})
}

func TestTasks(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		answers int
	}{{"task=selective-copying\nexamples=5\nlength=30\ntokens=4\n", 4}, {"task=induction-heads\nexamples=5\nlength=30\n", 1}} {
		tk, err := parseTask([]byte(tc.spec))
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range tk.generate(3) {
			last := -1
			for i, v := range ex {
				if v == marker {
					last = i
				}
			}
			if got := len(ex) - 1 - last; got != tc.answers {
				t.Fatalf("%s: %d answers after the last marker, want %d: %v", tk.kind, got, tc.answers, ex)
			}
			if tk.kind == "induction-heads" {
				first := -1
				for i, v := range ex[:len(ex)-2] {
					if v == marker {
						first = i
					}
				}
				if first < 0 || ex[first+1] != ex[len(ex)-1] {
					t.Fatalf("induction answer %d is not the token after the first trigger: %v", ex[len(ex)-1], ex)
				}
			} else {
				var content []int32
				for _, v := range ex[:len(ex)-tc.answers-1] {
					if v != noise {
						content = append(content, v)
					}
				}
				for i, v := range content {
					if ex[len(ex)-tc.answers+i] != v {
						t.Fatalf("copy answer differs from the content in order: %v", ex)
					}
				}
			}
		}
	}
	b, err := synthetic{}.Decode(context.Background(), sdk.DecodeRequest{Tokens: sdk.Tokens{0, 1, 2, 15}})
	if err != nil || string(b) != ".|an\n" {
		t.Fatalf("decode: %q %v", b, err)
	}
}
