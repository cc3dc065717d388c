package host

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mambakit/mambakit/internal/childproc"
	"github.com/mambakit/mambakit/sdk"
)

// ExecPrefix is the file name prefix of external plugin executables.
const ExecPrefix = "mambakit-plugin-"

// PathEnv names the environment variable that lists plugin directories.
const PathEnv = "MAMBAKIT_PLUGIN_PATH"

// Config says where plugins come from.
type Config struct {
	// Builtins names the modalities Self serves when run as
	// Self BuiltinArg NAME.
	Builtins   []string
	Self       string // the executable serving the built-ins; "" means os.Executable()
	BuiltinArg string // the argument that selects plugin mode, e.g. "__plugin"
	// Dirs are searched in order for mambakit-plugin-* executables;
	// DefaultDirs gives $MAMBAKIT_PLUGIN_PATH (the current directory is
	// searched only when a directory names it).
	Dirs []string
	// LockFile is plugins.lock; a missing file pins nothing. "" disables
	// pinning. Once the file exists, an external plugin it does not pin is
	// refused (trust.go).
	LockFile string
	// Shadow names built-ins an external plugin of the same name may stand
	// in for (a pin in the lock file allows it too); otherwise the
	// built-in is used and the external one is reported and ignored.
	Shadow []string
	// Log receives plugin log lines; nil discards them.
	Log *slog.Logger
}

// DefaultDirs returns the plugin search path: the entries of
// $MAMBAKIT_PLUGIN_PATH. The current directory is not searched unless the
// user names it (running mambakit inside a checkout must not run the
// checkout's plugins).
func DefaultDirs() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv(PathEnv)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Entry is a discovered plugin.
type Entry struct {
	Name    string
	Path    string   // the executable
	Args    []string // arguments that make it serve the plugin
	Builtin bool
	// Shadows names the entries of the same name found later in the search
	// order, which this one hides; Ignored the external ones that may not
	// stand in for this built-in (Config.Shadow), with the reason.
	Shadows []string
	Ignored []string
}

// Host finds and starts plugins.
type Host struct {
	cfg        Config
	lock       *Lock
	lockExists bool // the lock file exists: unpinned external plugins are refused
}

// New reads the lock file (if any) and returns a Host.
func New(cfg Config) (*Host, error) {
	if cfg.Self == "" && len(cfg.Builtins) > 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("host: finding the mambakit executable for the built-in plugins: %w", err)
		}
		cfg.Self = self
	}
	h := &Host{cfg: cfg, lock: &Lock{Plugins: map[string]LockEntry{}}}
	if cfg.LockFile != "" {
		l, err := ReadLock(cfg.LockFile)
		if err != nil {
			return nil, err
		}
		h.lock = l
		_, err = os.Stat(cfg.LockFile)
		h.lockExists = err == nil
	}
	return h, nil
}

// Discover lists the plugins in search order, one entry per name. An
// external plugin named like a built-in replaces it only when allowed
// (trust.go); either way the host's log says so, on every command.
func (h *Host) Discover() ([]Entry, error) {
	var all, ignored []Entry
	for _, dir := range h.cfg.Dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("host: plugin directory %s: %w", dir, err)
		}
		for _, e := range ents {
			name, ok := pluginName(e.Name())
			if !ok {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if !isExecutable(p) {
				continue
			}
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, fmt.Errorf("host: %w", err)
			}
			all = append(all, Entry{Name: name, Path: abs})
		}
	}
	for _, name := range h.cfg.Builtins {
		all = append(all, Entry{Name: name, Path: h.cfg.Self, Args: []string{h.cfg.BuiltinArg, name}, Builtin: true})
	}
	builtin := map[string]bool{}
	for _, name := range h.cfg.Builtins {
		builtin[name] = true
	}
	var out []Entry
	seen := map[string]int{}
	for _, e := range all {
		if !e.Builtin && builtin[e.Name] && !h.mayShadow(e.Name) {
			// Kept aside: the built-in comes later in all and takes the name.
			ignored = append(ignored, e)
			continue
		}
		if i, ok := seen[e.Name]; ok {
			out[i].Shadows = append(out[i].Shadows, e.describe())
			continue
		}
		seen[e.Name] = len(out)
		out = append(out, e)
	}
	for _, e := range ignored {
		i := seen[e.Name]
		out[i].Ignored = append(out[i].Ignored, e.Path+": an external plugin may stand in for the built-in "+e.Name+" only when plugins.lock pins it or --shadow "+e.Name+" allows it")
	}
	h.reportShadowing(out)
	slices.SortStableFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (e Entry) describe() string {
	if e.Builtin {
		return "built-in"
	}
	return e.Path
}

// pluginName extracts NAME from mambakit-plugin-NAME[.exe].
func pluginName(file string) (string, bool) {
	name, ok := strings.CutPrefix(file, ExecPrefix)
	if runtime.GOOS == "windows" {
		name = strings.TrimSuffix(name, ".exe")
	}
	return name, ok && name != "" && !strings.HasPrefix(name, ".")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

// Find returns the plugin called name.
func (h *Host) Find(name string) (Entry, error) {
	ents, err := h.Discover()
	if err != nil {
		return Entry{}, err
	}
	var names []string
	for _, e := range ents {
		if e.Name == name {
			return e, nil
		}
		names = append(names, e.Name)
	}
	where := fmt.Sprintf("no %s%s in %s", ExecPrefix, name, strings.Join(h.cfg.Dirs, string(filepath.ListSeparator)))
	if len(h.cfg.Dirs) == 0 {
		where = "no plugin directory: --plugin-dir or $MAMBAKIT_PLUGIN_PATH"
	}
	if len(names) == 0 {
		return Entry{}, fmt.Errorf("host: no plugin %q (%s, and no built-ins)", name, where)
	}
	return Entry{}, fmt.Errorf("host: no plugin %q (%s); available: %s", name, where, strings.Join(names, ", "))
}

// Plugin is a started plugin.
type Plugin struct {
	*sdk.Plugin
	Entry Entry
	Info  sdk.Info
}

// Start starts the plugin called name, verifying its pinned checksum, and
// asks it to describe itself. Close the result.
func (h *Host) Start(ctx context.Context, name string) (*Plugin, error) {
	e, err := h.Find(name)
	if err != nil {
		return nil, err
	}
	return h.StartEntry(ctx, e)
}

// StartEntry starts a discovered plugin.
func (h *Host) StartEntry(ctx context.Context, e Entry) (*Plugin, error) {
	if err := h.checkTrusted(e); err != nil {
		return nil, err
	}
	var sum []byte
	if pin, ok := h.lock.Plugins[e.Name]; ok && !e.Builtin {
		b, err := hex.DecodeString(strings.TrimPrefix(pin.SHA256, "sha256:"))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("host: %s: plugin %q: bad sha256 %q", h.cfg.LockFile, e.Name, pin.SHA256)
		}
		sum = b
	}
	cmd := exec.Command(e.Path, e.Args...)
	if sum != nil {
		// Hash and execute the same bytes (pinned.go): checking the path
		// and then running the path could run a file swapped in between.
		c, done, err := pinnedCommand(e.Name, e.Path, e.Args, sum)
		if err != nil {
			var ce *sdk.ChecksumError
			if errors.As(err, &ce) {
				return nil, fmt.Errorf("%w (pinned in %s)", err, h.cfg.LockFile)
			}
			return nil, err
		}
		defer done()
		cmd = c
	}
	// go-plugin stops plugins only on a clean exit: a host killed with
	// kill -9 would leave them orphaned.
	childproc.DieWithParent(cmd)
	p, err := sdk.Open(ctx, sdk.OpenConfig{Name: e.Name, Cmd: cmd, Log: h.cfg.Log})
	if err != nil {
		var ce *sdk.ChecksumError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w (pinned in %s)", err, h.cfg.LockFile)
		}
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := p.Describe(dctx)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %q: Describe: %w", e.Name, err)
	}
	if info.Name != e.Name {
		p.Close()
		return nil, fmt.Errorf("plugin %q (%s) calls itself %q: rename the executable to %s%s", e.Name, e.describe(), info.Name, ExecPrefix, info.Name)
	}
	return &Plugin{Plugin: p, Entry: e, Info: info}, nil
}
