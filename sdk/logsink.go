package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// logSink is the host's end of a plugin's log. It is the one place that
// works around two go-plugin defects:
//
//   - go-plugin parses each JSON line of a plugin's stderr with unchecked
//     type assertions, so a line such as {"@message": 5} panics the host.
//     hclog() hands go-plugin a logger whose per-plugin child is switched
//     off, which makes go-plugin skip its parser; the raw lines still reach
//     Stderr, and this sink parses them safely.
//   - go-plugin discards a plugin's stdout (and the pipes that replace
//     os.Stdout and os.Stderr after Serve). writer("stdout") receives them
//     through SyncStdout and SyncStderr, so nothing a plugin prints is lost.
//
// It forwards every line to the host's slog.Logger and keeps the last lines
// for crash reports.
type logSink struct {
	name string
	log  *slog.Logger // nil: forward nothing

	mu      sync.Mutex
	ring    []string
	size    int
	inPanic bool // after "panic: ", stack lines stay out of the ring
}

// maxLogLine is the longest line kept; the rest of a longer line is
// dropped, so a plugin printing a 2 GB line cannot exhaust the host.
const maxLogLine = 64 << 10

func newLogSink(name string, log *slog.Logger, size int) *logSink {
	return &logSink{name: name, log: log, size: size}
}

// last returns the kept lines, oldest first.
func (s *logSink) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ring)
}

// suffix formats the last lines for an error message.
func (s *logSink) suffix() string {
	l := tail(s.last(), 5)
	if len(l) == 0 {
		return ""
	}
	return "; last log: " + strings.Join(l, " | ")
}

func (s *logSink) keep(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) == s.size {
		s.ring = s.ring[1:]
	}
	s.ring = append(s.ring, line)
}

// line handles one complete line from stream ("stderr", "stdout" or
// "go-plugin" for go-plugin's own messages).
func (s *logSink) line(stream string, b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	level, msg, attrs := parseLogLine(b)
	if stream == "go-plugin" {
		// go-plugin's own lines ("plugin process exited" at error level)
		// repeat what Open's errors already say in one line.
		level = min(level, slog.LevelDebug)
	} else {
		s.mu.Lock()
		raw := attrs == nil
		if raw && (bytes.HasPrefix(b, []byte("panic: ")) || bytes.HasPrefix(b, []byte("fatal error: "))) {
			s.inPanic = true
			s.mu.Unlock()
			s.keep(msg)
		} else {
			// Stack lines after a panic, and debug chatter (go-plugin's own
			// startup lines), stay out of the crash report.
			skip := (raw && s.inPanic) || (!raw && level < slog.LevelInfo)
			s.mu.Unlock()
			if !skip {
				text := msg
				if e, ok := attrs["error"].(string); ok {
					text += ": " + e
				}
				s.keep(oneLine(text))
			}
		}
	}
	if s.log == nil {
		return
	}
	args := []any{"plugin", s.name, "stream", stream}
	for _, k := range slices.Sorted(mapKeys(attrs)) {
		args = append(args, k, attrs[k])
	}
	s.log.Log(context.Background(), level, msg, args...)
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// parseLogLine reads a go-plugin/hclog JSON log line. Anything else, or
// JSON without a string @message, is a raw line at info level with nil
// attrs.
func parseLogLine(b []byte) (slog.Level, string, map[string]any) {
	if len(b) == 0 || b[0] != '{' {
		return slog.LevelInfo, string(b), nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return slog.LevelInfo, string(b), nil
	}
	msg, ok := m["@message"].(string)
	if !ok {
		return slog.LevelInfo, string(b), nil
	}
	lvl, _ := m["@level"].(string)
	delete(m, "@message")
	delete(m, "@level")
	delete(m, "@timestamp")
	if m == nil {
		m = map[string]any{}
	}
	return slogLevel(lvl), msg, m
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// writer returns an io.Writer that splits what it gets into lines.
func (s *logSink) writer(stream string) io.Writer {
	return &lineWriter{sink: s, stream: stream}
}

type lineWriter struct {
	sink   *logSink
	stream string
	mu     sync.Mutex
	buf    []byte
	over   bool // the current line passed maxLogLine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLogLine - len(w.buf); len(chunk) > room {
			chunk, w.over = chunk[:room], true
		}
		w.buf = append(w.buf, chunk...)
		if i < 0 {
			break
		}
		if w.over {
			w.buf = append(w.buf, " [line truncated]"...)
		}
		w.sink.line(w.stream, w.buf)
		w.buf, w.over = w.buf[:0], false
		p = p[i+1:]
	}
	return n, nil
}

// hclog returns the logger given to go-plugin: its own messages go through
// the sink as stream "go-plugin"; its per-plugin child logger, which would
// parse the plugin's stderr, is off (see the type's doc).
func (s *logSink) hclog() hclog.Logger {
	return hcLogger{hclog.New(&hclog.LoggerOptions{
		Name:       "go-plugin",
		Output:     s.writer("go-plugin"),
		JSONFormat: true,
		Level:      hclog.Debug,
	})}
}

type hcLogger struct{ hclog.Logger }

var offLogger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})

func (l hcLogger) Named(string) hclog.Logger      { return offLogger }
func (l hcLogger) ResetNamed(string) hclog.Logger { return offLogger }
func (l hcLogger) With(args ...any) hclog.Logger  { return hcLogger{l.Logger.With(args...)} }
