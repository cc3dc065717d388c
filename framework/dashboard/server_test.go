package dashboard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixtures copies testdata/runs (three tiny real training runs and a
// compare report) into a temporary directory the test may change.
func fixtures(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runs")
	if err := os.CopyFS(dir, os.DirFS("testdata/runs")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newTestServer(t testing.TB, dirs ...string) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(dirs)
	if err != nil {
		t.Fatal(err)
	}
	s.Poll = 20 * time.Millisecond
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func TestRunsTable(t *testing.T) {
	dir := fixtures(t)
	_, ts := newTestServer(t, dir)
	code, body := get(t, ts.URL+"/api/runs")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var rep runsReply
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	byRel := map[string]Run{}
	for _, r := range rep.Runs {
		byRel[r.Kind+":"+r.Rel] = r
	}
	for _, m := range []string{"audio", "dna", "text"} {
		r, ok := byRel["train:"+m]
		if !ok {
			t.Fatalf("run %s missing from %v", m, rep.Runs)
		}
		if r.Modality != m || r.Status != StatusDone || r.Steps != 6 || r.Target != 6 || r.BestVal == nil || r.Baseline == nil || r.TokensPerS <= 0 || r.WallS <= 0 {
			t.Errorf("%s: %+v", m, r)
		}
	}
	if byRel["train:dna"].Variant != "LTI" || byRel["train:text"].Variant != "S6" {
		t.Errorf("variants: dna %q text %q", byRel["train:dna"].Variant, byRel["train:text"].Variant)
	}
	if _, ok := byRel["compare:cmp"]; !ok {
		t.Errorf("compare output missing")
	}
	if !strings.Contains(strings.Join(rep.Differs, ","), "nonselective") {
		t.Errorf("differing settings %v lack nonselective", rep.Differs)
	}
}

func TestStatus(t *testing.T) {
	dir := fixtures(t)
	s, _ := newTestServer(t, dir)
	// Cut the text run short: failed; then interrupted: stopped; then locked: running.
	m := filepath.Join(dir, "text", "metrics.jsonl")
	b, _ := os.ReadFile(m)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(m, []byte(strings.Join(lines[:4], "")), 0o644)
	status := func() string {
		s.Rescan = 0
		runs, err := s.Runs()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Rel == "text" && r.Kind == KindTrain {
				return r.Status
			}
		}
		return "missing"
	}
	if got := status(); got != StatusFailed {
		t.Errorf("short run: %s, want failed", got)
	}
	os.WriteFile(filepath.Join(dir, "text", "events.log"), []byte("2026-01-01T00:00:00Z interrupted at step 4; checkpoint x\n"), 0o644)
	if got := status(); got != StatusStopped {
		t.Errorf("interrupted run: %s, want stopped", got)
	}
	f, err := os.Create(filepath.Join(dir, "text", ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Skip("no flock here")
	}
	if got := status(); got != StatusRunning {
		t.Errorf("locked run: %s, want running", got)
	}
}

func TestCurve(t *testing.T) {
	dir := fixtures(t)
	_, ts := newTestServer(t, dir)
	code, body := get(t, ts.URL+"/api/curve?run=0/dna&run=0/text&metric=val_bits_per_unit&x=tokens")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var cs []Curve
	json.Unmarshal([]byte(body), &cs)
	if len(cs) != 2 || len(cs[0].X) != 2 || cs[0].X[0] != 3*2*32 || cs[0].Y[1] < 3 || cs[0].Y[1] > 3.4 {
		t.Fatalf("curves %+v", cs)
	}
	if code, _ := get(t, ts.URL+"/api/curve?run=0/dna&metric=nope"); code != 400 {
		t.Errorf("unknown metric: %d", code)
	}
	if code, _ := get(t, ts.URL+"/api/curve?run=../etc"); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
	if code, _ := get(t, ts.URL+"/api/curve?"+strings.Repeat("run=0/dna&", maxStreamRuns+1)); code != 400 {
		t.Errorf("%d runs in one chart: %d, want 400", maxStreamRuns+1, code)
	}
}

func TestDownsample(t *testing.T) {
	n := 100000
	x, y := make([]float32, n), make([]float32, n)
	for i := range n {
		x[i], y[i] = float32(i), float32(i%7)
	}
	y[54321] = 1000 // a spike survives
	y[777] = -5
	xs, ys := Downsample(x, y, 500)
	if len(xs) > 500 || len(xs) != len(ys) {
		t.Fatalf("%d points", len(xs))
	}
	var hi, lo bool
	for i := range xs {
		if i > 0 && xs[i] < xs[i-1] {
			t.Fatalf("x not in order at %d", i)
		}
		hi = hi || ys[i] == 1000 && xs[i] == 54321
		lo = lo || ys[i] == -5 && xs[i] == 777
	}
	if !hi || !lo {
		t.Errorf("spikes lost: max %v min %v", hi, lo)
	}
	if xs, _ := Downsample(x[:10], y[:10], 500); len(xs) != 10 {
		t.Errorf("short input changed: %d", len(xs))
	}
}

func TestFiles(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "served")
	os.MkdirAll(filepath.Join(dir, "run", "samples"), 0o755)
	os.WriteFile(filepath.Join(dir, "run", "samples", "a.txt"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(dir, "run", ".lock"), []byte("123"), 0o644)
	os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(dir, "run", "out"))
	os.Symlink(base, filepath.Join(dir, "run", "outdir"))
	os.Symlink("samples/a.txt", filepath.Join(dir, "run", "in"))
	_, ts := newTestServer(t, dir)
	if code, body := get(t, ts.URL+"/files/0/run/samples/a.txt"); code != 200 || body != "inside" {
		t.Errorf("inside file: %d %q", code, body)
	}
	if code, body := get(t, ts.URL+"/files/0/run/in"); code != 200 || body != "inside" {
		t.Errorf("symlink inside: %d %q", code, body)
	}
	for _, p := range []string{
		"/files/0/../secret", "/files/0/run/../../secret", "/files/0/%2e%2e/secret", "/files/0/run%2f..%2f..%2fsecret",
		"/files/0/run/out", "/files/0/run/outdir/secret", "/files/0/run/.lock", "/files/0/run/samples",
		"/files/0/run/samples/a.txt%00", "/files/0/run\\..\\..\\secret", "/files/1/secret", "/files/-1/secret",
		"/files/0//etc/passwd", "/files/0/run/samples/a.txt/..", "/files/0/" + base + "/secret",
	} {
		code, body := get(t, ts.URL+p)
		if code == 200 || strings.Contains(body, "SECRET") || strings.Contains(body, "inside") && code == 200 {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for p, want := range map[string]bool{
		"a/b.wav": true, "run/samples/step-1.txt": true, "": false, "/a": false, "a/../b": false, "a//b": false,
		"./a": false, "a/.lock": false, "a\\b": false, "a\x00b": false, "a\nb": false, "a/": false, "C:x": false, "\xff": false,
	} {
		if _, ok := CleanPath(p); ok != want {
			t.Errorf("CleanPath(%q) = %v", p, ok)
		}
	}
}

// FuzzFilePath requests any path under /files/ from a server whose root
// sits beside a secret file and a symlink to it: nothing outside the root
// may come back.
func FuzzFilePath(f *testing.F) {
	for _, s := range []string{"run/a.txt", "../secret", "run/out", "run/..%2f..%2fsecret", "%2e%2e/secret", "run/dir/../../secret", "run/.lock"} {
		f.Add(s)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "served")
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	os.WriteFile(filepath.Join(dir, "run", "a.txt"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(dir, "run", "out"))
	os.Symlink(base, filepath.Join(dir, "run", "up"))
	s, err := New([]string{dir})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest("GET", "http://x/files/0/"+p, nil)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if strings.Contains(w.Body.String(), "SECRET") {
			t.Fatalf("%q served the secret", p)
		}
	})
}

func TestEvents(t *testing.T) {
	dir := fixtures(t)
	_, ts := newTestServer(t, dir)
	r, err := http.Get(ts.URL + "/api/events?run=0/dna")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	br := bufio.NewReader(r.Body)
	next := func() Update {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				var u Update
				json.Unmarshal([]byte(d), &u)
				return u
			}
		}
	}
	if u := next(); u.ID != "0/dna" || u.Steps != 6 {
		t.Fatalf("first event %+v", u)
	}
	m, _ := os.OpenFile(filepath.Join(dir, "dna", "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	m.WriteString(`{"step":7,"loss":2.2,"lr":0.0002,"grad_norm":3,"tokens_per_s":60000,"val_bits_per_unit":3.1}` + "\n")
	m.Close()
	if u := next(); u.Steps != 7 || u.BestVal == nil || *u.BestVal != 3.1 {
		t.Fatalf("after a new line: %+v", u)
	}
}

func TestContent(t *testing.T) {
	dir := fixtures(t)
	_, ts := newTestServer(t, dir)
	_, body := get(t, ts.URL+"/api/samples?run=0/audio")
	var ss []Sample
	json.Unmarshal([]byte(body), &ss)
	if len(ss) != 2 || ss[1].Kind != "audio" || ss[1].Step != 6 || ss[1].PromptUnits != 16 {
		t.Fatalf("samples %s", body)
	}
	if code, wav := get(t, ts.URL+ss[0].URL); code != 200 || !strings.HasPrefix(wav, "RIFF") {
		t.Errorf("sample file: %d", code)
	}
	_, body = get(t, ts.URL+"/api/checkpoints?run=0/dna")
	var cs []Checkpoint
	json.Unmarshal([]byte(body), &cs)
	if len(cs) != 1 || !cs[0].Latest || cs[0].Step != 6 || len(cs[0].Files) != 3 {
		t.Fatalf("checkpoints %s", body)
	}
	_, body = get(t, ts.URL+"/api/report?run=c0/cmp")
	var rep Report
	json.Unmarshal([]byte(body), &rep)
	if len(rep.Tables) != 2 || rep.Tables[0].Rows[1][0] != "audio" || rep.Tables[0].Header[5] != "selection gain over best LTI" {
		t.Fatalf("report %+v", rep.Tables)
	}
}

// TestScoreAndReportRuns checks a sample's score CSV link and the runs a
// compare report names (its links are relative to the report).
func TestScoreAndReportRuns(t *testing.T) {
	dir := fixtures(t)
	write(t, filepath.Join(dir, "dna/samples/step-00000006.fa.score.csv"), []byte("position,token,decoded,logprob_nats,bits\n"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "text/samples/step-00000006.txt.score.csv"))
	_, ts := newTestServer(t, dir)
	for run, want := range map[string]string{"0/dna": "/files/0/dna/samples/step-00000006.fa.score.csv", "0/text": ""} {
		_, body := get(t, ts.URL+"/api/samples?run="+run)
		var ss []Sample
		if err := json.Unmarshal([]byte(body), &ss); err != nil || len(ss) != 1 || ss[0].Score != want {
			t.Errorf("%s: samples %s, want score %q", run, body, want)
		}
	}
	for id, want := range map[string]string{"c0/cmp": "[0/dna 0/audio]", "c0/report": "[0/audio 0/dna 0/text]"} {
		_, body := get(t, ts.URL+"/api/report?run="+id)
		var rep Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil || fmt.Sprint(rep.Runs) != want {
			t.Errorf("%s: runs %v, want %s", id, rep.Runs, want)
		}
	}
}
