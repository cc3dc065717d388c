package host

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ListColumns name the columns of Description.Row.
var ListColumns = []string{"NAME", "VERSION", "PROTOCOL", "KIND", "VOCAB", "UNIT", "PATH"}

// Row is the description as a row of ListColumns: what the plugin said
// about itself, or "-" where it did not start or was not run (the path
// then says why it was not run).
func (d Description) Row() []string {
	path := d.Entry.describe()
	in := d.Info
	switch {
	case d.Untrusted != "":
		return []string{d.Entry.Name, "-", "-", "-", "-", "-", fmt.Sprintf("%s (not run: %s)", path, d.Untrusted)}
	case d.Err != nil:
		return []string{d.Entry.Name, "-", "-", "-", "-", "-", path}
	}
	return []string{in.Name, in.Version, fmt.Sprintf("v%d", in.ProtocolVersion), string(in.Kind), fmt.Sprint(in.VocabSize), in.Unit, path}
}

// Facts describe a started plugin, label and value, in order: what it says
// about itself, where it runs from and its pin in the lock file. Labels
// without a value are left out.
func (h *Host) Facts(p *Plugin) [][2]string {
	in, e := p.Info, p.Entry
	path := e.Path
	if e.Builtin {
		path = fmt.Sprintf("built-in (%s %s %s)", e.Path, h.cfg.BuiltinArg, e.Name)
	}
	pin := "not pinned"
	if l, ok := h.lock.Plugins[e.Name]; ok && !e.Builtin {
		pin = l.SHA256 + " (" + h.cfg.LockFile + ", verified at start)"
	} else if e.Builtin {
		pin = "part of the mambakit binary"
	}
	var facts [][2]string
	for _, kv := range [][2]string{
		{"name", in.Name},
		{"version", in.Version},
		{"protocol", fmt.Sprintf("v%d", in.ProtocolVersion)},
		{"kind", string(in.Kind)},
		{"vocabulary", fmt.Sprint(in.VocabSize)},
		{"special tokens", formatSpecial(in.Special)},
		{"unit", fmt.Sprintf("%s (%g per token)", in.Unit, in.UnitsPerToken)},
		{"file types", strings.Join(in.FileTypes, " ")},
		{"path", path},
		{"checksum", pin},
		{"shadows", strings.Join(e.Shadows, ", ")},
	} {
		if kv[1] != "" {
			facts = append(facts, kv)
		}
	}
	return facts
}

// formatSpecial lists special ids as name=id in order of id.
func formatSpecial(m map[string]int32) string {
	names := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, m[n])
	}
	return strings.Join(parts, " ")
}
