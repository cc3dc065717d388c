package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLoggerFormat checks that the plugin logger writes what go-plugin's
// parser accepts: JSON with string @level, @message and an @timestamp in
// its exact layout.
func TestLoggerFormat(t *testing.T) {
	var buf bytes.Buffer
	newPluginLogger(&buf, slog.LevelDebug).Warn("disk slow", "file", "a.txt", "n", 3)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if m["@level"] != "warn" || m["@message"] != "disk slow" || m["file"] != "a.txt" {
		t.Errorf("fields %v", m)
	}
	ts, _ := m["@timestamp"].(string)
	if _, err := time.Parse(hclogTime, ts); err != nil {
		t.Errorf("@timestamp %q does not parse with go-plugin's layout: %v", ts, err)
	}
	lvl, msg, attrs := parseLogLine(bytes.TrimSpace(buf.Bytes()))
	if lvl != slog.LevelWarn || msg != "disk slow" || attrs["n"] != 3.0 {
		t.Errorf("parsed back: %v %q %v", lvl, msg, attrs)
	}
}

func TestParseLogLine(t *testing.T) {
	tests := map[string]struct {
		line  string
		level slog.Level
		msg   string
		json  bool
	}{
		"zero":           {"", slog.LevelInfo, "", false},
		"raw":            {"hello", slog.LevelInfo, "hello", false},
		"hclog":          {`{"@level":"error","@message":"boom","@timestamp":"x","k":1}`, slog.LevelError, "boom", true},
		"trace":          {`{"@level":"trace","@message":"t"}`, slog.LevelDebug - 4, "t", true},
		"number message": {`{"@message": 5}`, slog.LevelInfo, `{"@message": 5}`, false},
		"array level":    {`{"@message":"m","@level":["x"]}`, slog.LevelInfo, "m", true},
		"broken json":    {`{"@message":`, slog.LevelInfo, `{"@message":`, false},
		"null":           {`null`, slog.LevelInfo, "null", false},
	}
	for name, tt := range tests {
		lvl, msg, attrs := parseLogLine([]byte(tt.line))
		if lvl != tt.level || msg != tt.msg || (attrs != nil) != tt.json {
			t.Errorf("%s: got %v %q %v", name, lvl, msg, attrs)
		}
	}
}

func TestLogSink(t *testing.T) {
	var out bytes.Buffer
	s := newLogSink("p", slog.New(slog.NewTextHandler(&out, nil)), 3)
	w := s.writer("stderr")
	// go-plugin writes a line and its newline separately.
	for _, part := range []string{`{"@level":"info","@message":"one"}`, "\n", "tw", "o\nthree\n", `{"@level":"debug","@message":"chatter"}` + "\n", "four\r\n"} {
		w.Write([]byte(part))
	}
	if got := strings.Join(s.last(), "|"); got != "two|three|four" {
		t.Errorf("kept %q", got)
	}
	if !strings.Contains(out.String(), "msg=one plugin=p stream=stderr") {
		t.Errorf("forwarded:\n%s", out.String())
	}
	// A panic: the message is kept, the stack is not.
	s = newLogSink("p", nil, 5)
	w = s.writer("stderr")
	w.Write([]byte("before\npanic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:3\n"))
	if got := strings.Join(s.last(), "|"); got != "before|panic: boom" {
		t.Errorf("after a panic kept %q", got)
	}
	// A huge line is cut, not buffered whole.
	s = newLogSink("p", nil, 2)
	w = s.writer("stderr")
	big := bytes.Repeat([]byte("x"), 3*maxLogLine)
	w.Write(big)
	w.Write(big)
	w.Write([]byte("\nok\n"))
	l := s.last()
	if len(l) != 2 || len(l[0]) > maxLogLine+20 || !strings.HasSuffix(l[0], "[line truncated]") || l[1] != "ok" {
		t.Errorf("long line: %d lines, first %d bytes", len(l), len(l[0]))
	}
}

func FuzzLogSink(f *testing.F) {
	f.Add([]byte(`{"@message": 5, "@level": ["x"], "@timestamp": 7}` + "\npanic: x\n"))
	f.Add([]byte(`{"@message":"m","@level":"error","error":"e"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newLogSink("p", slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), 4)
		w := s.writer("stderr")
		for len(data) > 0 {
			n := min(len(data), 1+int(data[0])%17)
			w.Write(data[:n])
			data = data[n:]
		}
		for _, l := range s.last() {
			if strings.Contains(l, "\n") {
				t.Fatalf("kept line with a newline: %q", l)
			}
		}
	})
}
