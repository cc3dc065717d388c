package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Logger returns the plugin's logger. Its lines reach the host's log: they
// are JSON on the process's standard error with the keys go-plugin reads
// (@level, @message, @timestamp), and the host keeps the last ones for its
// report when a plugin crashes.
//
// Write to it, not to standard output: go-plugin swallows a plugin's
// standard output (and after Serve starts, os.Stdout and os.Stderr are
// pipes that most hosts discard).
func Logger() *slog.Logger {
	loggerOnce.Do(func() {
		// File descriptor 2 itself, not os.Stderr, which go-plugin replaces
		// with a pipe once Serve runs.
		logger = newPluginLogger(os.NewFile(2, "stderr"), slog.LevelDebug)
	})
	return logger
}

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// hclogTime is the timestamp layout go-plugin's log parser requires; a line
// with any other layout is not recognized as a log entry.
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

func newPluginLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format(hclogTime))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// slogLevel maps go-plugin's level names back; unknown names are info.
func slogLevel(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return slog.LevelDebug - 4
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
