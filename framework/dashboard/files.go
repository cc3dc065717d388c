package dashboard

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// CleanPath checks a slash-separated path from a request, relative to a
// root: no empty, "." or ".." element, no hidden name (.lock), no
// backslash, NUL or control character, and not absolute. It returns the
// path unchanged when it is acceptable.
func CleanPath(p string) (string, bool) {
	if p == "" || len(p) > 4096 || strings.HasPrefix(p, "/") {
		return "", false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." || strings.HasPrefix(el, ".") {
			return "", false
		}
		for _, r := range el {
			if r == '\\' || r == ':' || unicode.IsControl(r) || r == unicode.ReplacementChar {
				return "", false
			}
		}
	}
	if path.Clean(p) != p {
		return "", false
	}
	return p, true
}

// handleFile serves one regular file under a root: /files/ROOT/PATH. The
// root's os.Root refuses any way out (.., symlinks that leave it), and
// directories are not listed.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("root"))
	if err != nil || i < 0 || i >= len(s.roots) {
		http.NotFound(w, r)
		return
	}
	p, ok := CleanPath(r.PathValue("path"))
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	f, err := s.roots[i].fs.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
		} else {
			http.Error(w, "not served", http.StatusForbidden)
		}
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, "not a file", http.StatusForbidden)
		return
	}
	if r.URL.Query().Has("download") {
		w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(path.Base(p), `"`, "_")+`"`)
	}
	http.ServeContent(w, r, path.Base(p), fi.ModTime(), f)
}
