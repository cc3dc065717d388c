package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestBenchTrainPrintsSummaryLine(t *testing.T) {
	var out, errb bytes.Buffer
	code := mainExit([]string{"bench", "train", "--d-model", "16", "--layers", "1", "--d-state", "4", "--vocab", "32",
		"--batch", "2", "--seq-len", "20", "--steps", "2", "--threads", "1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^tokens_per_s=[0-9.]+ peak_rss_mb=[0-9.]+$`).MatchString(last) {
		t.Fatalf("last line %q is not tokens_per_s=<n> peak_rss_mb=<n>", last)
	}
}

func TestBenchScanPrintsRatio(t *testing.T) {
	var out, errb bytes.Buffer
	code := mainExit([]string{"bench", "scan", "--batch", "1", "--seq-len", "70", "--d-inner", "3", "--d-state", "5", "--reps", "1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"go ", "reference", "speedup"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestBadInvocationsGiveOneLine(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command": {"frobnicate"},
		"unknown bench":   {"bench", "nothing"},
		"no bench":        {"bench"},
		"zero batch":      {"bench", "train", "--batch", "0"},
		"bad flag value":  {"bench", "scan", "--seq-len", "many"},
		"negative thread": {"bench", "scan", "--threads", "-2"},
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

func TestBenchGeneratePrintsTimes(t *testing.T) {
	var out, errb bytes.Buffer
	code := mainExit([]string{"bench", "generate", "--d-model", "16", "--layers", "2", "--vocab", "40", "--tokens", "130", "--threads", "1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"position    1:", "position  128:", "tokens_per_s="} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}
