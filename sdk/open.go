package sdk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

// OpenConfig says how to start a plugin process.
type OpenConfig struct {
	// Name is the plugin's name in messages ("text").
	Name string
	// Cmd is the plugin command, not yet started. Its Path is checksummed
	// when Checksum is set.
	Cmd *exec.Cmd
	// Checksum is the SHA-256 the executable must have (from plugins.lock);
	// nil skips the check.
	Checksum []byte
	// Log receives the plugin's log lines, with attribute plugin=Name; nil
	// discards them (the last lines are still kept for crash reports).
	Log *slog.Logger
	// StartTimeout bounds the handshake; zero means 30 s.
	StartTimeout time.Duration
}

// Plugin is a running plugin process. It implements Modality by calling the
// plugin over gRPC; when the process dies during a call, the call returns a
// *CrashError. Close stops the process.
type Plugin struct {
	Modality
	name   string
	path   string // the executable, as messages name it (Cmd.Args[0])
	cmd    *exec.Cmd
	client *plugin.Client
	logs   *logSink
	stop   sync.Once
}

// StopGrace is how long Close waits for a plugin to exit after asking it
// to, before it kills the process: a plugin stuck in a call (or stopped)
// would otherwise keep the host waiting on go-plugin's shutdown call.
const StopGrace = time.Second

// Open starts the plugin process, checks its checksum, negotiates the
// protocol version and connects to it. ctx bounds the start only: when it
// ends first (Ctrl-C), the process is killed and Open returns ctx's error
// at once, instead of waiting out StartTimeout on a plugin that hangs (or
// is stopped) before its handshake. Once started, the plugin lives until
// Close.
func Open(ctx context.Context, cfg OpenConfig) (*Plugin, error) {
	if cfg.Cmd == nil {
		return nil, errors.New("sdk: Open: no command")
	}
	// The same command, killed by os/exec if ctx ends during the start:
	// startCtx is cancelled only then (stop below detaches it after).
	startCtx, cancelStart := context.WithCancel(context.Background())
	cmd := exec.CommandContext(startCtx, cfg.Cmd.Path)
	cmd.Args, cmd.Env, cmd.Dir = cfg.Cmd.Args, cfg.Cmd.Env, cfg.Cmd.Dir
	cmd.Stdin, cmd.ExtraFiles, cmd.SysProcAttr = cfg.Cmd.Stdin, cfg.Cmd.ExtraFiles, cfg.Cmd.SysProcAttr
	stop := context.AfterFunc(ctx, cancelStart)
	sink := newLogSink(cfg.Name, cfg.Log, 20)
	var sc *plugin.SecureConfig
	if cfg.Checksum != nil {
		sc = &plugin.SecureConfig{Checksum: cfg.Checksum, Hash: sha256.New()}
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake(),
		Plugins:          plugin.PluginSet{pluginpb.PluginName: &grpcPlugin{}},
		Cmd:              cmd,
		SecureConfig:     sc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  dialOptions(),
		StartTimeout:     timeout,
		Logger:           sink.hclog(),
		Stderr:           sink.writer("stderr"),
		SyncStdout:       sink.writer("stdout"),
		SyncStderr:       sink.writer("stderr"),
	})
	p := &Plugin{name: cfg.Name, path: cmd.Path, cmd: cmd, client: client, logs: sink}
	if len(cmd.Args) > 0 && cmd.Args[0] != "" {
		p.path = cmd.Args[0]
	}
	rpc, err := client.Client()
	var raw any
	if err == nil {
		raw, err = rpc.Dispense(pluginpb.PluginName)
	}
	if !stop() { // ctx ended during the start: the process was killed
		client.Kill()
		return nil, fmt.Errorf("plugin %q (%s): start: %w", p.name, p.path, ctx.Err())
	}
	if err != nil {
		client.Kill()
		return nil, p.startError(err)
	}
	p.Modality = &crashAware{p: p, m: raw.(*grpcClient)}
	return p, nil
}

// Close stops the plugin process: it asks the plugin to exit and kills it
// when it has not within StopGrace. Calling Close again does nothing.
func (p *Plugin) Close() {
	p.stop.Do(func() {
		done := make(chan struct{})
		go func() {
			p.client.Kill() // go-plugin: a shutdown call without a deadline, then 2 s
			close(done)
		}()
		select {
		case <-done:
			return
		case <-time.After(StopGrace):
		}
		if p.cmd.Process != nil {
			p.cmd.Process.Kill()
		}
		select { // the connection breaks, and Kill returns
		case <-done:
		case <-time.After(StopGrace):
		}
	})
}

// Pid is the plugin's process id, or 0 when it has not started.
func (p *Plugin) Pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// LastLog returns the plugin's last log lines, oldest first.
func (p *Plugin) LastLog() []string { return p.logs.last() }

var versionMismatch = regexp.MustCompile(`Plugin version: (\d+), Client versions: \[([\d ]+)\]`)

// startError explains why a plugin did not start, in one line.
func (p *Plugin) startError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return &ChecksumError{Plugin: p.name, Path: p.path}
	case versionMismatch.MatchString(msg):
		m := versionMismatch.FindStringSubmatch(msg)
		return fmt.Errorf("plugin %q (%s) speaks protocol v%s, this mambakit speaks v%s: rebuild the plugin against a matching mambakit SDK",
			p.name, p.path, m[1], strings.ReplaceAll(m[2], " ", ", v"))
	case strings.Contains(msg, "Unrecognized remote plugin message") && !strings.Contains(msg, "Failed to read any lines"):
		return fmt.Errorf("plugin %q (%s) is not a mambakit plugin: its first output line was not a go-plugin handshake%s",
			p.name, p.path, p.logs.suffix())
	}
	if p.waitExit(5 * time.Second) {
		return &CrashError{Plugin: p.name, Path: p.path, Method: "start", Status: p.status(), Last: p.logs.last()}
	}
	return fmt.Errorf("plugin %q (%s): %s%s", p.name, p.path, oneLine(msg), p.logs.suffix())
}

// waitExit waits up to d for the process to end and reports whether it has.
func (p *Plugin) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// status describes how the process ended. Only call it once Exited is
// true: go-plugin's Wait has then set ProcessState.
func (p *Plugin) status() string {
	if ps := p.cmd.ProcessState; ps != nil {
		return ps.String()
	}
	return "exited"
}

// ChecksumError is returned by Open when the executable's SHA-256 is not
// the pinned one.
type ChecksumError struct {
	Plugin, Path string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %q (%s): SHA-256 checksum does not match the pinned one: the binary changed since it was pinned; if that is expected, run \"mambakit plugins lock\" again", e.Plugin, e.Path)
}

// CrashError reports a plugin process that died during a call, in one line.
type CrashError struct {
	Plugin string
	Path   string
	Method string   // the call during which it died ("Prepare"), or "start"
	Status string   // "exit status 2", "signal: killed"
	Last   []string // its last log lines, oldest first
}

func (e *CrashError) Error() string {
	s := fmt.Sprintf("plugin %q crashed during %s (%s)", e.Plugin, e.Method, e.Status)
	if len(e.Last) > 0 {
		s += "; last log: " + strings.Join(e.Last, " | ")
	}
	return s
}

// crashAware wraps the gRPC client: after a failed call it checks whether
// the process died and, if so, says so instead of gRPC's "connection
// refused".
type crashAware struct {
	p *Plugin
	m *grpcClient
}

func (c *crashAware) check(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The caller gave up (Ctrl-C, a deadline): gRPC has cancelled the
		// call in the plugin, but a plugin that does not watch its context
		// would go on working, or block on its input, out of sight. Stop
		// it now (killing it after StopGrace); the caller is ending.
		c.p.Close()
		return err
	}
	var re *RemoteError
	lost := errors.As(err, &re) && re.Code == "Unavailable"
	wait := time.Duration(0)
	if lost {
		wait = 5 * time.Second // the connection can break well before Wait returns
	}
	if c.p.client.Exited() || (lost && c.p.waitExit(wait)) {
		return &CrashError{Plugin: c.p.name, Path: c.p.path, Method: method, Status: c.p.status(), Last: tail(c.p.logs.last(), 5)}
	}
	return err
}

func tail(s []string, n int) []string { return s[max(0, len(s)-n):] }

func (c *crashAware) Describe(ctx context.Context) (Info, error) {
	info, err := c.m.Describe(ctx)
	return info, c.check(ctx, "Describe", err)
}

func (c *crashAware) Prepare(ctx context.Context, req PrepareRequest) (Dataset, error) {
	ds, err := c.m.Prepare(ctx, req)
	return ds, c.check(ctx, "Prepare", err)
}

func (c *crashAware) Encode(ctx context.Context, req EncodeRequest) (Tokens, error) {
	ids, err := c.m.Encode(ctx, req)
	return ids, c.check(ctx, "Encode", err)
}

func (c *crashAware) Decode(ctx context.Context, req DecodeRequest) ([]byte, error) {
	data, err := c.m.Decode(ctx, req)
	return data, c.check(ctx, "Decode", err)
}
