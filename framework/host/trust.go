package host

import (
	"fmt"
	"slices"
	"strings"
)

// The trust model (docs/plugins.md): the built-ins are part of the mambakit
// binary; an external plugin runs only from a directory the user put on the
// search path, only as the bytes plugins.lock pins once that file exists,
// and stands in for a built-in only when the user says so.

// mayShadow reports whether an external plugin called name may stand in
// for the built-in of that name: the lock pins it, or Config.Shadow names
// it.
func (h *Host) mayShadow(name string) bool {
	if _, pinned := h.lock.Plugins[name]; pinned {
		return true
	}
	return slices.Contains(h.cfg.Shadow, name)
}

// reportShadowing logs, as a warning, every built-in an external plugin
// stands in for and every external plugin ignored for a built-in.
func (h *Host) reportShadowing(ents []Entry) {
	if h.cfg.Log == nil {
		return
	}
	for _, e := range ents {
		if !e.Builtin && slices.Contains(e.Shadows, "built-in") {
			h.cfg.Log.Warn(fmt.Sprintf("plugin %s: %s stands in for the built-in", e.Name, e.Path))
		}
		for _, why := range e.Ignored {
			h.cfg.Log.Warn(fmt.Sprintf("plugin %s: ignoring %s", e.Name, why))
		}
	}
}

// checkTrusted refuses to start an external plugin that the lock file, once
// it exists, does not pin.
func (h *Host) checkTrusted(e Entry) error {
	if e.Builtin || !h.lockExists {
		return nil
	}
	if _, ok := h.lock.Plugins[e.Name]; ok {
		return nil
	}
	return fmt.Errorf("plugin %q (%s) is not pinned in %s, so it is not run: pin it with \"mambakit plugins lock\" if you trust it", e.Name, e.Path, h.cfg.LockFile)
}

// Trusted reports whether e would be started without a pin check failing
// for want of a pin (built-in, pinned, or no lock file yet); the reason
// when not.
func (h *Host) Trusted(e Entry) (bool, string) {
	if err := h.checkTrusted(e); err != nil {
		return false, strings.TrimPrefix(err.Error(), fmt.Sprintf("plugin %q (%s) ", e.Name, e.Path))
	}
	return true, ""
}
