package dashboard

import (
	"container/list"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server serves the dashboard over the run directories under its roots.
type Server struct {
	roots []root
	mux   *http.ServeMux

	mu      sync.Mutex
	scanned time.Time
	entries map[string]*entry // run ID → its summary state
	order   []string          // IDs in discovery order
	cache   seriesCache
	// Rescan is how old the list of runs may get before a request walks
	// the roots again.
	Rescan time.Duration
	// Poll is how often the live stream looks at the metrics files.
	Poll time.Duration
}

type root struct {
	path string // absolute, as given
	fs   *os.Root
}

type entry struct {
	run  Run
	tail metricsTail
}

// New opens the folders a dashboard serves; each must be a directory.
func New(dirs []string) (*Server, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no directory to serve")
	}
	s := &Server{entries: map[string]*entry{}, Rescan: 2 * time.Second, Poll: 200 * time.Millisecond}
	s.cache.budget = 256 << 20
	s.cache.items = map[string]*list.Element{}
	s.cache.lru = list.New()
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("serve %s: %w", d, err)
		}
		r, err := os.OpenRoot(abs)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("serve %s: %w", d, err)
		}
		s.roots = append(s.roots, root{abs, r})
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /", staticHandler())
	s.mux.HandleFunc("GET /api/runs", s.handleRuns)
	s.mux.HandleFunc("GET /api/curve", s.handleCurve)
	s.mux.HandleFunc("GET /api/events", s.handleEvents)
	s.mux.HandleFunc("GET /api/samples", s.handleSamples)
	s.mux.HandleFunc("GET /api/checkpoints", s.handleCheckpoints)
	s.mux.HandleFunc("GET /api/report", s.handleReport)
	s.mux.HandleFunc("GET /files/{root}/{path...}", s.handleFile)
	return s, nil
}

// Close releases the roots.
func (s *Server) Close() {
	for _, r := range s.roots {
		r.fs.Close()
	}
}

// ServeHTTP serves the app, its API and the files of the runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// Runs lists the runs, refreshing the list and their figures.
func (s *Server) Runs() ([]Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.scanned) > s.Rescan {
		if err := s.scan(); err != nil {
			return nil, err
		}
	}
	out := make([]Run, 0, len(s.order))
	for _, id := range s.order {
		e := s.entries[id]
		if e.run.Kind == KindTrain {
			summarize(s.roots[e.run.Root].fs, e.run.Rel, &e.run, &e.tail)
		}
		out = append(out, e.run)
	}
	return out, nil
}

// scan walks the roots again; entries already known keep their state.
func (s *Server) scan() error {
	seen := map[string]bool{}
	s.order = s.order[:0]
	for i, r := range s.roots {
		trains, compares, err := discover(r.path)
		if err != nil {
			return fmt.Errorf("find runs in %s: %w", r.path, err)
		}
		add := func(rel, kind string) {
			id := strconv.Itoa(i) + "/" + rel
			if kind == KindCompare {
				id = "c" + id
			}
			seen[id] = true
			s.order = append(s.order, id)
			if _, ok := s.entries[id]; !ok {
				s.entries[id] = &entry{run: Run{ID: id, Kind: kind, Root: i, Rel: rel}}
			}
		}
		for _, rel := range trains {
			add(rel, KindTrain)
		}
		for _, rel := range compares {
			add(rel, KindCompare)
		}
	}
	for id := range s.entries {
		if !seen[id] {
			delete(s.entries, id)
		}
	}
	s.scanned = time.Now()
	return nil
}

// lookup finds a run by ID (never a path from the request).
func (s *Server) lookup(id string) (Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 || time.Since(s.scanned) > s.Rescan {
		_ = s.scan()
	}
	e, ok := s.entries[id]
	if !ok {
		return Run{}, false
	}
	return e.run, true
}

// runsReply is /api/runs: the runs, the roots and the settings that differ.
type runsReply struct {
	Roots   []string `json:"roots"`
	Runs    []Run    `json:"runs"`
	Differs []string `json:"differs"` // config keys whose values differ between train runs
}

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	runs, err := s.Runs()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rep := runsReply{Runs: runs, Differs: differs(runs)}
	for i := range runs { // only the columns the table shows: a third of the bytes
		if runs[i].Settings == nil {
			continue
		}
		keep := make(map[string]string, len(rep.Differs))
		for _, k := range rep.Differs {
			if v, ok := runs[i].Settings[k]; ok {
				keep[k] = v
			}
		}
		runs[i].Settings = keep
	}
	for _, r := range s.roots {
		rep.Roots = append(rep.Roots, r.path)
	}
	writeJSON(w, rep)
}

// differs names the settings that are not the same in every train run.
func differs(runs []Run) []string {
	vals := map[string]map[string]bool{}
	n := 0
	for _, r := range runs {
		if r.Kind != KindTrain || r.Settings == nil {
			continue
		}
		n++
		for k, v := range r.Settings {
			if vals[k] == nil {
				vals[k] = map[string]bool{}
			}
			vals[k][v] = true
		}
	}
	var out []string
	for k, vs := range vals {
		if len(vs) > 1 || n > 1 && countHaving(runs, k) < n {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func countHaving(runs []Run, k string) int {
	c := 0
	for _, r := range runs {
		if _, ok := r.Settings[k]; ok {
			c++
		}
	}
	return c
}

func (s *Server) handleCurve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	metric, axis := q.Get("metric"), q.Get("x")
	if metric == "" {
		metric = "loss"
	}
	if axis == "" {
		axis = "step"
	}
	if !slices.Contains(metricNames, metric) || !slices.Contains(axisNames, axis) {
		http.Error(w, "unknown metric or x axis", http.StatusBadRequest)
		return
	}
	n, err := strconv.Atoi(q.Get("points"))
	if err != nil || n < 2 || n > 100000 {
		n = 2000
	}
	if ids := q["run"]; len(ids) > maxStreamRuns {
		http.Error(w, fmt.Sprintf("at most %d runs in one chart", maxStreamRuns), http.StatusBadRequest)
		return
	}
	var out []Curve
	for _, id := range q["run"] {
		c, err := s.Curve(id, metric, axis, n)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		out = append(out, c)
	}
	writeJSON(w, out)
}

// Curve is metric against axis for one run, downsampled to about n points.
func (s *Server) Curve(id, metric, axis string, n int) (Curve, error) {
	run, ok := s.lookup(id)
	if !ok || run.Kind != KindTrain {
		return Curve{}, fmt.Errorf("no run %q", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr, err := s.cache.get(s.roots[run.Root].fs, id, run.Rel)
	if err != nil {
		return Curve{}, fmt.Errorf("run %s: %w", id, err)
	}
	c := Curve{ID: id, Metric: metric, Axis: axis}
	c.X, c.Y, c.Rows = sr.curve(metric, axis, n)
	return c, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the client went away
	}
}

// relJoin joins a run's relative directory and a name inside it.
func relJoin(rel string, names ...string) string {
	return filepath.Join(append([]string{filepath.FromSlash(rel)}, names...)...)
}

// cleanID refuses what cannot be a run ID.
func cleanID(id string) bool { return id != "" && !strings.ContainsAny(id, "\x00\\") }
