package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// staticHandler serves the page, its script, its style and the vendored
// uPlot (assets/, embedded in the binary).
func staticHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	return http.FileServerFS(sub)
}
