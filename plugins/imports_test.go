// Package plugins_test checks a rule every plugin follows: it is written
// against sdk alone, like a plugin from outside the project (docs/STYLE
// 3.5), never against framework/ or the CLI.
package plugins_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/mambakit/mambakit/"

// TestPluginsImportOnlySDK parses every Go file of the built-in plugins and
// the example plugins: the only project packages they may import are sdk,
// sdk/sdktest and their own package.
func TestPluginsImportOnlySDK(t *testing.T) {
	roots := map[string]string{".": "plugins", filepath.Join("..", "examples", "plugins"): "examples/plugins"}
	checked := 0
	for root, prefix := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || filepath.Dir(path) == root {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			own := module + prefix + "/" + strings.Split(filepath.ToSlash(rel), "/")[0]
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, module) && p != module+"sdk" && p != module+"sdk/sdktest" && p != own {
					t.Errorf("%s imports %s; a plugin imports only sdk and sdk/sdktest", path, p)
				}
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: the plugin directories moved?", checked)
	}
}
