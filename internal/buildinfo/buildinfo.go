// Package buildinfo reports which build of mambakit is running: the module
// version and the commit it was built from, as the go command stamps them
// into the binary (runtime/debug.ReadBuildInfo). The CLI prints it for
// --version and every run directory records it (framework/train).
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info is a build's version and commit.
type Info struct {
	Version  string `json:"version" yaml:"version"`                       // module version: a tag, a pseudo-version, or "(devel)"
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"` // vcs.revision: the commit
	Modified bool   `json:"modified,omitempty" yaml:"modified,omitempty"` // vcs.modified: built from a tree with uncommitted changes
}

// Read returns the running binary's build information; where the go
// command recorded none (a test binary, go run without VCS), Version is
// "(devel)" and Revision is empty.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)"}
	}
	return fromBuild(bi)
}

func fromBuild(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is one line: "v0.1.0 (commit 0123abcd, modified)".
func (in Info) String() string {
	var b strings.Builder
	b.WriteString(in.Version)
	switch {
	case in.Revision != "":
		b.WriteString(" (commit " + in.Revision)
		if in.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	default:
		b.WriteString(" (commit unknown: built without version control information)")
	}
	return b.String()
}
