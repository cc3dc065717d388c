package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBadInvocationsGiveOneLine(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command": {"frobnicate"},
		"unknown bench":   {"bench", "nothing"},
		"no bench":        {"bench"},
		"zero batch":      {"bench", "train", "--batch", "0"},
		"bad flag value":  {"bench", "scan", "--seq-len", "many"},
		"negative thread": {"bench", "scan", "--threads", "-2"},
		"unknown loop":    {"bench", "peak", "--loops", "fp64-zmm"},
		"zero peak time":  {"bench", "peak", "--min-time", "0s"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := mainExit(args, &out, &errb); code == 0 {
				t.Fatal("exit status 0")
			}
			msg := strings.TrimSpace(errb.String())
			if msg == "" || strings.Count(msg, "\n") > 0 {
				t.Errorf("want one line on stderr, got %q", msg)
			}
		})
	}
}
