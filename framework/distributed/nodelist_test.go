package distributed

import (
	"strings"
	"testing"
)

func TestFirstHost(t *testing.T) {
	for list, want := range map[string]string{
		"node01":                 "node01",
		"node[01-03,07]":         "node01",
		"node[07,01-03]":         "node07",
		"node[1]":                "node1",
		"n1,n2":                  "n1",
		"gpu-a100-[001-128],cpu": "gpu-a100-001",
		"rack[1-2]-n[01-04]":     "rack1-n01",
		"node[0001-0004]x":       "node0001x",
		"c1.cluster.org":         "c1.cluster.org",
		"[3-4]":                  "3",
		"node[01-03],gpu[5-6]":   "node01",
	} {
		got, err := FirstHost(list)
		if err != nil || got != want {
			t.Errorf("FirstHost(%q) = %q, %v; want %q", list, got, err, want)
		}
	}
	for list, want := range map[string]string{
		"":            "no host",
		",n1":         "an empty host name",
		"node[":       "a [ without its ]",
		"node[01-03":  "a [ without its ]",
		"node]":       "a ] without its [",
		"node[]":      "an empty [ ]",
		"node[a-b]":   `"a-b" is not a number`,
		"node[1-]":    `"1-" is not a number`,
		"node[-3]":    `"-3" is not a number`,
		"node[1,,2]":  `"" is not a number`,
		"node[1-2]x]": "a ] without its [",
		"no de":       `' ' cannot be part of a host name`,
		"node\n":      `'\n' cannot be part of a host name`,
	} {
		got, err := FirstHost(list)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FirstHost(%q) = %q, %v; want an error with %q", list, got, err, want)
		}
	}
}

func FuzzFirstHost(f *testing.F) {
	for _, s := range []string{"node[01-03,07]", "a,b", "x[1-2]-y[3]", "[", "]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		host, err := FirstHost(list)
		if err != nil {
			return
		}
		if host == "" || strings.ContainsAny(host, "[],") {
			t.Fatalf("FirstHost(%q) = %q", list, host)
		}
	})
}
