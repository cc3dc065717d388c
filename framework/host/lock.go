package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// LockVersion is the version of the plugins.lock format.
const LockVersion = 1

// Lock is the content of plugins.lock: the SHA-256 of each external plugin
// executable, written by "mambakit plugins lock" and checked (through
// go-plugin's SecureConfig) every time the plugin starts.
type Lock struct {
	Version int                  `json:"version"`
	Plugins map[string]LockEntry `json:"plugins"`
}

// LockEntry pins one plugin.
type LockEntry struct {
	SHA256  string `json:"sha256"`  // "sha256:" + hex
	Version string `json:"version"` // the plugin's own version when pinned, for people
	Path    string `json:"path"`    // where it was found when pinned, for people
}

// ReadLock reads a lock file; a missing file is an empty lock.
func ReadLock(path string) (*Lock, error) {
	l := &Lock{Version: LockVersion, Plugins: map[string]LockEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if err := json.Unmarshal(data, l); err != nil {
		return nil, fmt.Errorf("host: %s: %w", path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("host: %s: lock format version %d, this mambakit reads %d", path, l.Version, LockVersion)
	}
	if l.Plugins == nil {
		l.Plugins = map[string]LockEntry{}
	}
	return l, nil
}

// Lock pins every external plugin found now: it hashes each executable,
// starts it to check it is a working plugin and learn its version, and
// writes the lock file atomically. Built-ins are part of the mambakit
// binary and are not pinned.
func (h *Host) Lock(ctx context.Context, path string) (*Lock, error) {
	ents, err := h.Discover()
	if err != nil {
		return nil, err
	}
	l := &Lock{Version: LockVersion, Plugins: map[string]LockEntry{}}
	// Start without the old pins: the point is to record what is there now.
	unpinned := &Host{cfg: h.cfg, lock: &Lock{Plugins: map[string]LockEntry{}}}
	for _, e := range ents {
		if e.Builtin {
			continue
		}
		sum, err := fileSHA256(e.Path)
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		p, err := unpinned.StartEntry(ctx, e)
		if err != nil {
			return nil, err
		}
		p.Close()
		// Hash again after running it: pin exactly what ran.
		if again, err := fileSHA256(e.Path); err != nil || again != sum {
			return nil, fmt.Errorf("host: %s changed while it was being pinned", e.Path)
		}
		l.Plugins[e.Name] = LockEntry{SHA256: "sha256:" + sum, Version: p.Info.Version, Path: e.Path}
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	h.lock = l
	return l, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
