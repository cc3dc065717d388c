package dashboard

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxList bounds the entries listed from one directory.
const maxList = 2000

// listDir reads the names in a directory under a root (at most maxList).
func listDir(root *os.Root, name string) ([]fs.DirEntry, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := f.ReadDir(maxList)
	if err != nil && len(es) == 0 {
		return nil, err
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
	return es, nil
}

// fileURL is where /files serves a path under root i.
func fileURL(i int, rel string, names ...string) string {
	u := "/files/" + strconv.Itoa(i) + "/" + path.Join(append([]string{rel}, names...)...)
	return strings.Replace(u, "/./", "/", 1)
}

// Sample is one file of a run's samples/ with its sidecar.
type Sample struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Kind        string `json:"kind"` // audio, dna or text
	Step        int    `json:"step"`
	PromptUnits int    `json:"prompt_units"` // bytes, bases or samples before the generated part
	Tokens      int    `json:"tokens"`
	Unit        string `json:"unit,omitempty"`
	// Score is the URL of FILE.score.csv, when there is one: the CSV of
	// "mambakit score --checkpoint RUN FILE" (bits per token, with each
	// token's text), drawn as a per-position track.
	Score string `json:"score,omitempty"`
}

// scoreSuffix names a sample's score CSV beside it.
const scoreSuffix = ".score.csv"

var sampleKinds = map[string]string{".wav": "audio", ".fa": "dna", ".fasta": "dna", ".txt": "text"}

var stepName = regexp.MustCompile(`step-0*(\d+)`)

func (s *Server) handleSamples(w http.ResponseWriter, r *http.Request) {
	run, ok := s.lookup(r.URL.Query().Get("run"))
	if !ok || run.Kind != KindTrain {
		http.NotFound(w, r)
		return
	}
	root := s.roots[run.Root].fs
	es, _ := listDir(root, relJoin(run.Rel, "samples"))
	out := []Sample{}
	for _, e := range es {
		kind, ok := sampleKinds[path.Ext(e.Name())]
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, ok := CleanPath(e.Name()); !ok {
			continue
		}
		sm := Sample{Name: e.Name(), URL: fileURL(run.Root, run.Rel, "samples", e.Name()), Kind: kind}
		if m := stepName.FindStringSubmatch(e.Name()); m != nil {
			sm.Step, _ = strconv.Atoi(m[1])
		}
		if b, err := readSmall(root, relJoin(run.Rel, "samples", e.Name()+".json")); err == nil {
			var side struct {
				PromptUnits int    `json:"prompt_units"`
				Tokens      int    `json:"tokens"`
				Unit        string `json:"unit"`
			}
			if json.Unmarshal(b, &side) == nil {
				sm.PromptUnits, sm.Tokens, sm.Unit = side.PromptUnits, side.Tokens, side.Unit
			}
		}
		if fi, err := root.Lstat(relJoin(run.Rel, "samples", e.Name()+scoreSuffix)); err == nil && fi.Mode().IsRegular() {
			sm.Score = fileURL(run.Root, run.Rel, "samples", e.Name()+scoreSuffix)
		}
		out = append(out, sm)
	}
	writeJSON(w, out)
}

// Checkpoint is one directory of a run's checkpoints/.
type Checkpoint struct {
	Name   string     `json:"name"`
	Step   int        `json:"step"`
	Latest bool       `json:"latest"`
	Files  []FileInfo `json:"files"`
}

// FileInfo is a file a page links to.
type FileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

func (s *Server) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	run, ok := s.lookup(r.URL.Query().Get("run"))
	if !ok || run.Kind != KindTrain {
		http.NotFound(w, r)
		return
	}
	root := s.roots[run.Root].fs
	latest := ""
	if b, err := readSmall(root, relJoin(run.Rel, "checkpoints", "latest")); err == nil {
		latest = strings.TrimSpace(string(b))
	}
	es, _ := listDir(root, relJoin(run.Rel, "checkpoints"))
	out := []Checkpoint{}
	for _, e := range es {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "step-") {
			continue
		}
		c := Checkpoint{Name: e.Name(), Latest: e.Name() == latest, Files: []FileInfo{}}
		c.Step, _ = strconv.Atoi(strings.TrimLeft(strings.TrimPrefix(e.Name(), "step-"), "0"))
		fs, _ := listDir(root, relJoin(run.Rel, "checkpoints", e.Name()))
		for _, f := range fs {
			fi, err := f.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			c.Files = append(c.Files, FileInfo{Name: f.Name(), Size: fi.Size(), URL: fileURL(run.Root, run.Rel, "checkpoints", e.Name(), f.Name())})
		}
		out = append(out, c)
	}
	writeJSON(w, out)
}

// Table is a Markdown table of a compare report.
type Table struct {
	Title  string     `json:"title"` // the heading above it
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// Report is a compare output: its tables and figures.
type Report struct {
	ID       string     `json:"id"`
	Markdown string     `json:"markdown"`
	Tables   []Table    `json:"tables"`
	Images   []FileInfo `json:"images"`
	// Runs are the train runs the report's table of runs links to that
	// this dashboard serves (their IDs), for the curves view.
	Runs []string `json:"runs"`
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	run, ok := s.lookup(r.URL.Query().Get("run"))
	if !ok || run.Kind != KindCompare {
		http.NotFound(w, r)
		return
	}
	root := s.roots[run.Root].fs
	b, err := readSmall(root, relJoin(run.Rel, "report.md"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	rep := ParseReport(string(b))
	rep.ID = run.ID
	es, _ := listDir(root, filepathOrDot(run.Rel))
	for _, e := range es {
		if path.Ext(e.Name()) == ".png" && e.Type().IsRegular() {
			rep.Images = append(rep.Images, FileInfo{Name: e.Name(), URL: fileURL(run.Root, run.Rel, e.Name())})
		}
	}
	rep.Runs = s.reportRuns(run, rep.Tables)
	writeJSON(w, rep)
}

// mdLink is a Markdown link in a table cell: [text](target).
var mdLink = regexp.MustCompile(`^\[([^\]]*)\]\(([^)]*)\)$`)

// reportRuns finds the train runs that a report's "directory" column links
// to (relative to the report) among the runs of the same root.
func (s *Server) reportRuns(report Run, tables []Table) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tables {
		col := slices.Index(t.Header, "directory")
		if col < 0 {
			continue
		}
		for _, row := range t.Rows {
			if col >= len(row) {
				continue
			}
			target := row[col]
			if m := mdLink.FindStringSubmatch(target); m != nil {
				target = m[2]
			}
			rel := path.Clean(path.Join(report.Rel, target))
			if rel == ".." || strings.HasPrefix(rel, "../") {
				continue
			}
			id := strconv.Itoa(report.Root) + "/" + rel
			if r, ok := s.lookup(id); ok && r.Kind == KindTrain && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func filepathOrDot(rel string) string {
	if rel == "" {
		return "."
	}
	return relJoin(rel)
}

// ParseReport reads the Markdown tables of a compare report.md.
func ParseReport(md string) Report {
	rep := Report{Markdown: md, Tables: []Table{}}
	title := ""
	var cur *Table
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			title = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
		if !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cur == nil:
			rep.Tables = append(rep.Tables, Table{Title: title, Header: cells, Rows: [][]string{}})
			cur = &rep.Tables[len(rep.Tables)-1]
		case len(cells) > 0 && strings.HasPrefix(cells[0], "---"):
		default:
			cur.Rows = append(cur.Rows, cells)
		}
	}
	return rep
}
