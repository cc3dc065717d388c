package dashboard

import (
	"bufio"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// manyRuns makes n train runs (the text fixture's config.yaml and a
// 100-step metrics.jsonl each) under a fresh folder.
func manyRuns(b *testing.B, n int) string {
	b.Helper()
	cfg, err := os.ReadFile("testdata/runs/text/config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i := range n {
		run := filepath.Join(dir, fmt.Sprintf("sweep-%d", i/100), fmt.Sprintf("run-%04d", i))
		if err := os.MkdirAll(run, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, "config.yaml"), cfg, 0o644); err != nil {
			b.Fatal(err)
		}
		writeMetrics(b, filepath.Join(run, "metrics.jsonl"), 100)
	}
	return dir
}

// writeMetrics writes a metrics.jsonl of steps lines, an evaluation every
// 100th.
func writeMetrics(b *testing.B, name string, steps int) {
	b.Helper()
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for s := 1; s <= steps; s++ {
		loss := 5.5 / (1 + float64(s)/1000)
		fmt.Fprintf(w, `{"step":%d,"loss":%.6f,"lr":0.001,"grad_norm":1.25,"tokens_per_s":51234.5`, s, loss)
		if s%100 == 0 {
			fmt.Fprintf(w, `,"val_loss":%.6f,"val_bits_per_unit":%.6f`, loss, loss/0.693)
		}
		w.WriteString("}\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// serve answers one GET on s and fails on anything but 200.
func serve(b *testing.B, s *Server, url string) int {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	if rec.Code != 200 {
		b.Fatalf("%s: %d %s", url, rec.Code, rec.Body.String())
	}
	return rec.Body.Len()
}

// BenchmarkRunsTable is /api/runs over 1,000 runs: Cold is a new server
// (discovery, every config.yaml and metrics.jsonl read, the JSON);
// Rescan walks the folders again and reads what the metrics files gained
// (nothing here), as every request does once the list is Rescan old.
func BenchmarkRunsTable(b *testing.B) {
	dir := manyRuns(b, 1000)
	b.Run("Cold", func(b *testing.B) {
		var n int
		for b.Loop() {
			s, err := New([]string{dir})
			if err != nil {
				b.Fatal(err)
			}
			n = serve(b, s, "/api/runs")
			s.Close()
		}
		b.ReportMetric(float64(n), "bytes/reply")
	})
	b.Run("Rescan", func(b *testing.B) {
		s, err := New([]string{dir})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		s.Rescan = 0
		serve(b, s, "/api/runs")
		for b.Loop() {
			serve(b, s, "/api/runs")
		}
	})
}

// BenchmarkCurve is /api/curve of a 1,000,000-step run, downsampled to
// 4,000 points (a chart 2,000 pixels wide): Cold reads and parses the
// whole metrics.jsonl; Cached serves it again from memory, as once a
// chart is open.
func BenchmarkCurve(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "long"), 0o755); err != nil {
		b.Fatal(err)
	}
	writeMetrics(b, filepath.Join(dir, "long", "metrics.jsonl"), 1_000_000)
	const url = "/api/curve?run=0/long&metric=loss&x=step&points=4000"
	b.Run("Cold", func(b *testing.B) {
		for b.Loop() {
			s, err := New([]string{dir})
			if err != nil {
				b.Fatal(err)
			}
			serve(b, s, url)
			s.Close()
		}
	})
	b.Run("Cached", func(b *testing.B) {
		s, err := New([]string{dir})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		serve(b, s, url)
		var n int
		for b.Loop() {
			n = serve(b, s, url)
		}
		b.ReportMetric(float64(n), "bytes/reply")
	})
}

// BenchmarkBrowserRunsTable is the runs table of 1,000 runs in headless
// Chromium, end to end: the page loads, asks /api/runs (the server warm,
// as once open) and draws every row. ms/render is from the navigation's
// start to the last row drawn, as the page's clock measures it.
func BenchmarkBrowserRunsTable(b *testing.B) {
	browser := newBrowser(b)
	dir := manyRuns(b, 1000)
	_, ts := newTestServer(b, dir)
	tb := openTab(b, browser)
	tb.open(b, ts.URL, "#runs")
	var total float64
	for b.Loop() {
		tb.do(b, "reload", chromedp.Navigate("about:blank"), chromedp.Navigate(ts.URL+"/#runs"))
		total += eval[float64](b, tb, `new Promise((ok) => { const done = () => window.routed === "#runs" && document.querySelectorAll("#runs tbody tr").length === 1000;
			const check = () => (done() ? ok(performance.now()) : requestAnimationFrame(check)); check(); })`)
	}
	b.ReportMetric(total/float64(b.N), "ms/render")
}
