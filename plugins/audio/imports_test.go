package audio

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlySDK: the plugin is written against sdk/ alone (and
// third-party libraries), never framework/ (docs/STYLE 3.5).
func TestImportsOnlySDK(t *testing.T) {
	const module = "github.com/mambakit/mambakit/"
	for _, dir := range []string{".", "cmd/mambakit-plugin-audio"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(path, module) && path != module+"sdk" && path != module+"sdk/sdktest" && path != module+"plugins/audio" {
					t.Errorf("%s imports %s; a plugin imports only sdk and sdk/sdktest", name, path)
				}
			}
		}
	}
}
