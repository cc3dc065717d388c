package dashboard

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive a real headless Chromium (Debian's chromium
// package; .ci/run installs it) against the dashboard over the fixture
// runs, and fail on any console error or uncaught exception of the page.
// MAMBAKIT_SCREENSHOTS=DIR also saves a screenshot of each page there
// (docs/dashboard/*.png; docs/dashboard.md).

// chromiumNames are the binaries tried, in order, on $PATH.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

func findChromium() (string, bool) {
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	return "", false
}

// newBrowser starts one headless Chromium for a test and its subtests.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	bin, ok := findChromium()
	if !ok {
		t.Skipf("browser tests skipped: no Chromium binary on $PATH (tried %s); install Debian's chromium package (apt-get install chromium)", strings.Join(chromiumNames, ", "))
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // the tests may run as root (CI containers)
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil { // start the browser now
		t.Fatalf("start %s: %v", bin, err)
	}
	return bctx
}

// tab is one page of the browser and what its console said.
type tab struct {
	ctx     context.Context
	mu      sync.Mutex
	msgs    []chromedp.ConsoleMessage
	allowed *regexp.Regexp // messages a test expects
}

// openTab opens a tab and fails the test, at its end, if the page logged
// an error or a warning or threw an exception that nothing caught.
func openTab(t testing.TB, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 20*time.Second)
	if err := chromedp.Do(ctx); err != nil {
		cancelTimeout()
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{ctx: ctx}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.msgs = append(tb.msgs, m)
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		time.Sleep(50 * time.Millisecond) // the last messages in flight
		cancelTimeout()
		cancel()
		<-done
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, m := range tb.msgs {
			if tb.allowed != nil && tb.allowed.MatchString(m.Text) {
				continue
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleException, chromedp.ConsoleWarning, "assert":
				t.Errorf("console %s at %s:%d", m, m.URL, m.Line)
			}
		}
	})
	return tb
}

// do runs actions in the tab, failing the test with what was being done.
func (tb *tab) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (a promise is awaited) into v.
func eval[T any](t testing.TB, tb *tab, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to a view of the dashboard and waits until the page has
// routed to it (app.js sets window.routed when a view is drawn).
func (tb *tab) open(t testing.TB, base, hash string) {
	t.Helper()
	tb.do(t, "open "+hash, chromedp.Navigate(base+"/"+hash),
		chromedp.Poll[chromedp.Void](fmt.Sprintf("window.routed === %q", hash), chromedp.WithPollingTimeout(10*time.Second)))
}

// screenshot saves the page as DIR/NAME.png when MAMBAKIT_SCREENSHOTS=DIR.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("MAMBAKIT_SCREENSHOTS")
	if dir == "" {
		return
	}
	eval[int](t, tb, `new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(document.documentElement.scrollHeight))))`) // laid out
	b, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sampleText is the text sample the browser tests show; its sidecar
// says the prompt is its first 16 bytes.
const sampleText = "Implementation returns the \"state\" of the scan,\tand the café keeps every token.\n"

// browserFixtures is fixtures plus what a page shows but a six-step run
// does not make: a longer audio sample (a chirp) and score CSVs beside the
// DNA and text samples (as "mambakit score FILE > FILE.score.csv" writes).
func browserFixtures(t *testing.T) string {
	t.Helper()
	dir := fixtures(t)
	const rate, n, prompt = 16000, 12000, 4000
	pcm := make([]int16, n)
	for i := range pcm {
		f := 200 + 3000*float64(i)/n // Hz, rising
		env := 0.6
		if i < prompt {
			env = 0.3
		}
		pcm[i] = int16(32767 * env * math.Sin(2*math.Pi*f*float64(i)/rate))
	}
	write(t, filepath.Join(dir, "audio/samples/step-00000009.wav"), wavBytes(rate, pcm))
	write(t, filepath.Join(dir, "audio/samples/step-00000009.wav.json"), []byte(fmt.Sprintf(`{"prompt_tokens": %d, "tokens": %d, "unit": "sample", "prompt_units": %d}`, prompt, n, prompt)))

	seq := dnaSequence(t, filepath.Join(dir, "dna/samples/step-00000006.fa"))
	write(t, filepath.Join(dir, "dna/samples/step-00000006.fa.score.csv"), scoreCSV(strings.Split(seq, "")))
	// A six-step model writes bytes that are not UTF-8; a trained one writes
	// words (one multi-byte letter here), which a tokenizer cuts at words.
	write(t, filepath.Join(dir, "text/samples/step-00000006.txt"), []byte(sampleText))
	units := regexp.MustCompile(`\S+\s*`).FindAllString(sampleText, -1)
	write(t, filepath.Join(dir, "text/samples/step-00000006.txt.json"), []byte(fmt.Sprintf(`{"prompt_tokens": 2, "tokens": %d, "unit": "byte", "prompt_units": 16}`, len(units))))
	write(t, filepath.Join(dir, "text/samples/step-00000006.txt.score.csv"), scoreCSV(units))
	return dir
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wavBytes is a 16-bit mono PCM RIFF WAVE file.
func wavBytes(rate int, pcm []int16) []byte {
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}

// wavSeconds reads the duration of a PCM WAV file's data chunk.
func wavSeconds(t *testing.T, name string) float64 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var rate, align uint32
	for o := 12; o+8 <= len(b); {
		id, n := string(b[o:o+4]), binary.LittleEndian.Uint32(b[o+4:])
		switch id {
		case "fmt ":
			rate, align = binary.LittleEndian.Uint32(b[o+12:]), uint32(binary.LittleEndian.Uint16(b[o+20:]))
		case "data":
			n = min(n, uint32(len(b)-o-8))
			return float64(n/align) / float64(rate)
		}
		o += 8 + int(n) + int(n&1)
	}
	t.Fatalf("%s: no data chunk", name)
	return 0
}

func dnaSequence(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var seq strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, ">") {
			seq.WriteString(strings.TrimSpace(l))
		}
	}
	return seq.String()
}

// scoreCSV is score's CSV for tokens decoding to units (the first is
// not scored), with made-up but varied bits.
func scoreCSV(units []string) []byte {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"position", "token", "decoded", "logprob_nats", "bits"})
	for i := 1; i < len(units); i++ {
		bits := 0.5 + 3*math.Abs(math.Sin(float64(i)*0.7))
		q := strconv.Quote(units[i]) // as session.UnitTexts writes a text unit
		q = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
		w.Write([]string{strconv.Itoa(i), strconv.Itoa(i), q, strconv.FormatFloat(-bits*math.Ln2, 'f', 6, 64), strconv.FormatFloat(bits, 'f', 6, 64)})
	}
	w.Flush()
	return []byte(b.String())
}

// metricsColumn reads one metric of a run's metrics.jsonl, by step.
func metricsColumn(t *testing.T, name, key string) map[float64]float64 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[float64]float64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v, ok := m[key].(float64); ok {
			out[m["step"].(float64)] = v
		}
	}
	return out
}

func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	dir := browserFixtures(t)
	s, ts := newTestServer(t, dir)
	s.Poll = 200 * time.Millisecond // the default: the live test measures what a user sees

	t.Run("RunsTable", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#runs")
		rows := eval[[]string](t, tb, `[...document.querySelectorAll("#runs tbody tr")].map((tr) => tr.dataset.id + " | " + tr.textContent)`)
		want := map[string][]string{"0/audio": {"audio", "done", "6 / 6"}, "0/dna": {"dna", "LTI", "done"}, "0/text": {"text", "S6", "done"}, "c0/cmp": {"cmp", "compare"}, "c0/report": {"report", "compare"}}
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want %d: %q", len(rows), len(want), rows)
		}
		for _, r := range rows {
			id, text, _ := strings.Cut(r, " | ")
			for _, w := range want[id] {
				if !strings.Contains(text, w) {
					t.Errorf("row %s: %q lacks %q", id, text, w)
				}
			}
			delete(want, id)
		}
		if len(want) > 0 {
			t.Errorf("runs missing from the table: %v", want)
		}
		tb.screenshot(t, "runs")
		tb.do(t, "filter", chromedp.SendKeys("#filter", "dna"),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll("#runs tbody tr").length === 1`, chromedp.WithPollingTimeout(2*time.Second)))
		if id := eval[string](t, tb, `document.querySelector("#runs tbody tr").dataset.id`); id != "0/dna" {
			t.Errorf("filter dna kept %s", id)
		}
	})

	t.Run("TwoCurves", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#runs")
		tb.do(t, "select two runs and overlay",
			chromedp.Click(`tr[data-id="0/audio"] input[type=checkbox]`),
			chromedp.Click(`tr[data-id="0/text"] input[type=checkbox]`),
			chromedp.Click("#overlay"),
			chromedp.Poll[chromedp.Void](`(window.routed || "").startsWith("#curves") && window.chart && window.chart.data.length === 3`, chromedp.WithPollingTimeout(5*time.Second)))
		type chartState struct {
			Labels []string     `json:"labels"`
			Data   [][]*float64 `json:"data"`
		}
		c := eval[chartState](t, tb, `({labels: window.chart.series.map((s) => s.label), data: window.chart.data.map((d) => Array.from(d))})`)
		for i, run := range []string{"audio", "text"} {
			want := metricsColumn(t, filepath.Join(dir, run, "metrics.jsonl"), "loss")
			if !strings.Contains(c.Labels[i+1], run) {
				t.Errorf("series %d is %q, want run %s", i+1, c.Labels[i+1], run)
			}
			got := 0
			for j, x := range c.Data[0] {
				y := c.Data[i+1][j]
				if x == nil || y == nil {
					continue
				}
				got++
				if w, ok := want[*x]; !ok || math.Abs(*y-w) > 1e-6*math.Abs(w) {
					t.Errorf("%s: step %v drawn at loss %v, metrics.jsonl says %v", run, *x, *y, w)
				}
			}
			if got != len(want) {
				t.Errorf("%s: %d points drawn, metrics.jsonl has %d", run, got, len(want))
			}
		}
		tb.screenshot(t, "curves")
	})

	t.Run("AudioSample", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#run?id="+"0%2Faudio")
		type audioState struct {
			Src        string  `json:"src"`
			ReadyState int     `json:"readyState"`
			Duration   float64 `json:"duration"`
			Error      int     `json:"error"`
			Decoded    float64 `json:"decoded"` // seconds, by Web Audio's decodeAudioData
		}
		got := eval[[]audioState](t, tb, `Promise.all([...document.querySelectorAll("audio")].map(async (a) => {
			if (a.readyState < 1 && !a.error) await new Promise((ok) => { a.addEventListener("loadedmetadata", ok, {once: true}); a.addEventListener("error", ok, {once: true}); setTimeout(ok, 5000); });
			const buf = await (await fetch(a.currentSrc)).arrayBuffer();
			const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(buf);
			return {src: a.currentSrc, readyState: a.readyState, duration: a.duration, error: a.error ? a.error.code : 0, decoded: decoded.duration};
		}))`)
		if len(got) != 3 {
			t.Fatalf("%d audio elements, want 3 (one per sample): %+v", len(got), got)
		}
		for _, a := range got {
			name := filepath.Join(dir, "audio/samples", filepath.Base(a.Src))
			want := wavSeconds(t, name)
			if a.Error != 0 || a.ReadyState < 1 || math.Abs(a.Duration-want) > 1e-3 || math.Abs(a.Decoded-want) > 1e-3 {
				t.Errorf("%s: readyState %d, error %d, duration %v s, decoded %v s; the WAV holds %v s", filepath.Base(a.Src), a.ReadyState, a.Error, a.Duration, a.Decoded, want)
			}
		}
		type drawn struct {
			Name    string `json:"name"`
			Samples int    `json:"samples"`
			Canvas  int    `json:"canvas"`
			Peaks   string `json:"peaks"`
		}
		for _, d := range eval[[]drawn](t, tb, `[...document.querySelectorAll(".sample[data-kind=audio]")].map((d) => ({name: d.dataset.name, samples: +d.dataset.samples, canvas: d.querySelectorAll("canvas.wave, canvas.spec").length, peaks: d.dataset.peakHz}))`) {
			want := int(math.Round(wavSeconds(t, filepath.Join(dir, "audio/samples", d.Name)) * 16000))
			if d.Samples != want || d.Canvas != 2 {
				t.Errorf("%s: %d samples drawn in %d canvases, want %d in a waveform and a spectrogram", d.Name, d.Samples, d.Canvas, want)
			}
			t.Logf("%s: %d samples, peaks %s Hz", d.Name, d.Samples, d.Peaks)
			if d.Name != "step-00000009.wav" {
				continue
			}
			// The chirp's phase is 2π(200 + 3000 t/T) t: it rises from 200 Hz to 6,200 Hz.
			var first, last float64
			if _, err := fmt.Sscanf(d.Peaks, "%g,%g", &first, &last); err != nil || math.Abs(first-200) > 100 || math.Abs(last-6200) > 300 {
				t.Errorf("%s: the spectrogram's loudest frequencies, first and last frame, are %q Hz; want about 200 and 6200", d.Name, d.Peaks)
			}
		}
		tb.screenshot(t, "run-audio")
	})

	t.Run("LiveUpdate", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#curves?run=0%2Ftext")
		tb.do(t, "the first event", chromedp.Poll[chromedp.Void](`window.liveUpdates >= 1 && window.chart && window.chart.data[0].length === 6`, chromedp.WithPollingTimeout(5*time.Second)))
		f, err := os.OpenFile(filepath.Join(dir, "text/metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = f.WriteString(`{"step":7,"loss":4.25,"lr":0.0002,"grad_norm":1.5,"tokens_per_s":50000}` + "\n")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(tb.ctx, chromedp.Poll[chromedp.Void](`window.chart.data[0].length === 7 && window.chart.data[1][6] === 4.25 && window.dash.runs.find((r) => r.id === "0/text").steps === 7 && document.getElementById("live").textContent.includes("step 7")`,
			chromedp.WithPollingTimeout(time.Second))); err != nil {
			t.Fatalf("the page did not show step 7 within a second of its metrics line: %v", err)
		}
		t.Logf("step 7 drawn %v after its metrics line was written", time.Since(start).Round(time.Millisecond))

		// A user's zoom survives the next update.
		eval[int](t, tb, `(window.chart.setScale("x", {min: 2, max: 4}), 1)`)
		f, err = os.OpenFile(filepath.Join(dir, "text/metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString(`{"step":8,"loss":4.5,"lr":0.0002,"grad_norm":1.5,"tokens_per_s":50000}` + "\n")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(tb.ctx, chromedp.Poll[chromedp.Void](`window.chart.data[0].length === 8`, chromedp.WithPollingTimeout(time.Second))); err != nil {
			t.Fatalf("step 8 not drawn within a second: %v", err)
		}
		if x := eval[[]float64](t, tb, `[window.chart.scales.x.min, window.chart.scales.x.max]`); x[0] != 2 || x[1] != 4 {
			t.Errorf("the zoom to steps 2 to 4 became %v after an update", x)
		}
	})

	t.Run("CurveControls", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#curves?run=0%2Fdna&run=0%2Faudio")
		for _, metric := range []string{"loss", "val_bits_per_unit", "lr", "grad_norm", "tokens_per_s"} {
			for _, axis := range []string{"step", "tokens", "wall"} {
				for _, logy := range []bool{false, true} {
					n := eval[int](t, tb, fmt.Sprintf(`(async () => {
						const before = window.drawn, set = (id, k, v) => { const e = document.getElementById(id); e[k] = v; e.dispatchEvent(new Event("change")); };
						set("metric", "value", %q); set("axis", "value", %q); set("logy", "checked", %v);
						while (window.drawn < before + 3) await new Promise((ok) => setTimeout(ok, 10));
						return window.chart.data.length; })()`, metric, axis, logy))
					want := 3 // x and two runs
					if metric == "val_bits_per_unit" {
						want = 5 // and their Markov baselines
					}
					if n != want {
						t.Errorf("%s against %s (log y %v): %d columns, want %d", metric, axis, logy, n, want)
					}
				}
			}
		}
		tb.open(t, ts.URL, "#curves")
		if note := eval[string](t, tb, `document.getElementById("curves-note").textContent`); !strings.Contains(note, "No run selected") {
			t.Errorf("curves without runs: note %q", note)
		}
		tb.open(t, ts.URL, "#runs")
		tb.do(t, "sort by run, descending (two clicks)", chromedp.Click(`#runs thead th:nth-child(2)`), chromedp.Click(`#runs thead th:nth-child(2)`))
		if ids := eval[[]string](t, tb, `[...document.querySelectorAll("#runs tbody tr")].map((tr) => tr.dataset.id)`); fmt.Sprint(ids) != "[0/text c0/report 0/dna c0/cmp 0/audio]" {
			t.Errorf("sorted by run, descending: %v", ids)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.allowed = regexp.MustCompile(`404`)
		tb.do(t, "open a run that is not there", chromedp.Navigate(ts.URL+"/#run?id=0%2Fnope"),
			chromedp.Poll[chromedp.Void](`!document.getElementById("error").hidden`, chromedp.WithPollingTimeout(5*time.Second)))
		if msg := eval[string](t, tb, `document.getElementById("error").textContent`); !strings.Contains(msg, "404") {
			t.Errorf("error banner %q", msg)
		}
		tb.open(t, ts.URL, "#runs")
		if hidden := eval[bool](t, tb, `document.getElementById("error").hidden`); !hidden {
			t.Error("the error banner stays on the next view")
		}
	})

	t.Run("DNASample", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#run?id=0%2Fdna")
		seq := dnaSequence(t, filepath.Join(dir, "dna/samples/step-00000006.fa"))
		type dnaState struct {
			Prompt   string  `json:"prompt"`
			All      string  `json:"all"`
			Boundary int     `json:"boundary"`
			GC       float64 `json:"gc"`
			Scored   int     `json:"scored"`
			Tracks   int     `json:"tracks"`
		}
		got := eval[dnaState](t, tb, `(() => { const d = document.querySelector(".sample[data-kind=dna]"); return {
			prompt: [...d.querySelectorAll(".seq span.prompt")].map((s) => s.textContent).join(""),
			all: d.querySelector(".seq").textContent, boundary: d.querySelectorAll(".seq .boundary").length,
			gc: +d.dataset.gc, scored: +d.dataset.scored, tracks: d.querySelectorAll("canvas.gc, canvas.bits").length}; })()`)
		gc := float64(strings.Count(seq, "G")+strings.Count(seq, "C")) / float64(len(seq)-strings.Count(seq, "N"))
		if got.All != seq || got.Prompt != seq[:16] || got.Boundary != 1 || math.Abs(got.GC-gc) > 1e-9 || got.Scored != len(seq)-1 || got.Tracks != 2 {
			t.Errorf("DNA sample drawn as %+v; want the sequence %s, its first 16 bases as the prompt, one boundary, GC %.4f, %d scored bases, a GC and a bits track", got, seq, gc, len(seq)-1)
		}
		tb.screenshot(t, "run-dna")
	})

	t.Run("TextSample", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#run?id=0%2Ftext")
		txt, err := os.ReadFile(filepath.Join(dir, "text/samples/step-00000006.txt"))
		if err != nil {
			t.Fatal(err)
		}
		type textState struct {
			Prompt string    `json:"prompt"`
			All    string    `json:"all"`
			Bits   []float64 `json:"bits"`
		}
		got := eval[textState](t, tb, `(() => { const d = document.querySelector(".sample[data-kind=text]"); return {
			prompt: [...d.querySelectorAll(".seq span.prompt")].map((s) => s.textContent).join(""),
			all: d.querySelector(".seq").textContent, bits: [...new Map([...d.querySelectorAll("[data-tok]")].map((s) => [s.dataset.tok, +s.dataset.bits])).values()]}; })()`)
		if got.All != string(txt) || got.Prompt != string(txt[:16]) {
			t.Errorf("text sample drawn as %q with the prompt %q; want %q and %q", got.All, got.Prompt, txt, txt[:16])
		}
		if want := len(strings.Fields(sampleText)) - 1; len(got.Bits) != want || len(got.Bits) > 0 && math.Abs(got.Bits[0]-(0.5+3*math.Abs(math.Sin(0.7)))) > 1e-5 || got.Prompt != "Implementation r" {
			t.Errorf("%d tokens shaded (first %v), want %d", len(got.Bits), got.Bits[:min(1, len(got.Bits))], want)
		}
		tb.screenshot(t, "run-text")
	})

	t.Run("Report", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#report?id=c0%2Fcmp")
		type chart struct {
			Labels    []string  `json:"labels"`
			Values    []float64 `json:"values"`
			Baselines []float64 `json:"baselines"`
		}
		got := eval[map[string]chart](t, tb, `window.reportCharts`)
		sp, val := got["spectrum"], got["validation"]
		if fmt.Sprint(sp.Labels, sp.Values) != "[dna audio] [1.3 -3.3]" {
			t.Errorf("spectrum chart %+v, want dna +1.3%% and audio -3.3%%", sp)
		}
		if fmt.Sprint(val.Labels, val.Values, val.Baselines) != "[dna S6 dna LTI audio S6 audio LTI] [3.3 3.3429 6.2 6] [1.9506 1.9506 4.4899 4.4899]" {
			t.Errorf("validation chart %+v", val)
		}
		if n := eval[int](t, tb, `document.querySelectorAll("#report-charts .uplot").length`); n != 2 {
			t.Errorf("%d charts drawn, want 2", n)
		}
		tb.screenshot(t, "report")
		tb.do(t, "overlay the report's runs", chromedp.Click("#report-overlay"),
			chromedp.Poll[chromedp.Void](`(window.routed || "").startsWith("#curves") && window.chart && window.chart.data.length >= 3`, chromedp.WithPollingTimeout(5*time.Second)))
		if ids := eval[[]string](t, tb, `window.chartData.ids`); fmt.Sprint(ids) != "[0/dna 0/audio]" {
			t.Errorf("the report's runs overlaid: %v, want [0/dna 0/audio]", ids)
		}
		if m := eval[string](t, tb, `window.chartData.metric`); m != "val_bits_per_unit" {
			t.Errorf("overlay metric %q, want val_bits_per_unit", m)
		}
		tb.screenshot(t, "curves-validation")
	})

	t.Run("ReportFigures", func(t *testing.T) {
		tb := openTab(t, browser)
		tb.open(t, ts.URL, "#report?id=c0%2Freport")
		tb.do(t, "figures", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#report-images img")].filter((i) => i.complete && i.naturalWidth > 0).length === 6`, chromedp.WithPollingTimeout(5*time.Second)))
		if n := eval[int](t, tb, `window.reportCharts.validation.values.length`); n != 3 {
			t.Errorf("validation chart of %d cells, want 3", n)
		}
		tb.screenshot(t, "report-figures")
	})
}
