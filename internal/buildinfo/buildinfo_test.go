package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	for name, tc := range map[string]struct {
		bi   debug.BuildInfo
		want string
	}{
		"zero": {debug.BuildInfo{}, "(devel) (commit unknown: built without version control information)"},
		"clean": {debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}}, "v0.2.0 (commit abc123)"},
		"modified": {debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101000000-abc123+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}, "v0.0.0-20260101000000-abc123+dirty (commit abc123, modified)"},
	} {
		if got := fromBuild(&tc.bi).String(); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
