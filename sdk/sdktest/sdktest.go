// Package sdktest is the conformance suite for mambakit modality plugins.
//
// A plugin's test calls Run with sample inputs it ships in testdata:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, New(), sdktest.Samples{Files: []string{"testdata/small.fa"}})
//	}
//
// Run checks the plugin directly and again behind a real gRPC connection
// (sdk.Loopback), so the wire converters and message limits are exercised
// and both paths must give the same results.
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// Samples are the inputs the suite feeds the plugin.
type Samples struct {
	// Files are sample input files (in the plugin's testdata), each a
	// valid input for Encode (its contents) and, together, for Prepare.
	// At least one is required.
	Files []string
	// Bad maps file names to contents that Encode and Prepare must reject
	// with an error (not a panic), e.g. {"truncated.wav": data[:30]}.
	Bad map[string][]byte
	// Options are passed to Prepare, Encode and Decode.
	Options map[string]string
	// Lossy says Decode(Encode(x)) may differ from x (audio quantization,
	// FASTA line wrapping). The suite then checks that tokens survive
	// instead: Encode(Decode(t)) == t for t = Encode(x).
	Lossy bool
	// VocabSize bounds the ids Encode may return when Options select a
	// vocabulary other than Describe's (a tokenizer.json); 0 means
	// Describe's VocabSize.
	VocabSize int
}

// Run runs the conformance suite on m.
func Run(t *testing.T, m sdk.Modality, s Samples) {
	t.Helper()
	if len(s.Files) == 0 {
		t.Fatal("sdktest: Samples.Files is empty: the suite needs at least one sample input")
	}
	for _, f := range s.Files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("sdktest: sample %v", err)
		}
	}
	var direct results
	t.Run("direct", func(t *testing.T) { direct = suite(t, m, s) })
	client, stop, err := sdk.Loopback(m)
	if err != nil {
		t.Fatalf("sdktest: loopback: %v", err)
	}
	defer stop()
	t.Run("grpc", func(t *testing.T) {
		wire := suite(t, client, s)
		if direct.encoded != nil && wire.encoded != nil {
			for i, f := range s.Files {
				if !slices.Equal(direct.encoded[i], wire.encoded[i]) {
					t.Errorf("Encode(%s) differs over gRPC: %s", f, diffTokens(direct.encoded[i], wire.encoded[i]))
				}
			}
		}
		if direct.dataset != nil && wire.dataset != nil {
			compareDirs(t, "direct", direct.dataset, "grpc", wire.dataset)
		}
	})
}

// results are what one pass of the suite produced, for comparing the
// direct and the gRPC pass.
type results struct {
	encoded [][]int32
	dataset map[string][]byte
}

func suite(t *testing.T, m sdk.Modality, s Samples) results {
	var res results
	ctx := context.Background()
	var info sdk.Info
	ok := t.Run("Describe", func(t *testing.T) { info = checkDescribe(t, m) })
	if !ok {
		return res
	}
	vocab := info.VocabSize
	if s.VocabSize > 0 {
		vocab = s.VocabSize
	}
	t.Run("Encode", func(t *testing.T) { res.encoded = checkEncode(t, ctx, m, s, vocab) })
	t.Run("Decode", func(t *testing.T) { checkDecode(t, ctx, m, s, res.encoded, vocab) })
	t.Run("BadInput", func(t *testing.T) { checkBadInput(t, ctx, m, s) })
	t.Run("Prepare", func(t *testing.T) { res.dataset = checkPrepare(t, ctx, m, s) })
	return res
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func checkDescribe(t *testing.T, m sdk.Modality) sdk.Info {
	info, err := call(func() (sdk.Info, error) { return m.Describe(context.Background()) })
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	again, err := m.Describe(context.Background())
	if err != nil {
		t.Fatalf("second Describe: %v", err)
	}
	if fmt.Sprint(info) != fmt.Sprint(again) {
		t.Errorf("Describe is not stable:\n%+v\n%+v", info, again)
	}
	if !nameRE.MatchString(info.Name) {
		t.Errorf("Name %q: want lower case letters, digits and dashes, starting with a letter", info.Name)
	}
	if info.Version == "" {
		t.Error("Version is empty")
	}
	if info.Kind != sdk.KindDiscrete && info.Kind != sdk.KindContinuous {
		t.Errorf("Kind %q: want %q or %q", info.Kind, sdk.KindDiscrete, sdk.KindContinuous)
	}
	if info.VocabSize <= 0 {
		t.Errorf("VocabSize %d: want > 0", info.VocabSize)
	}
	for name, id := range info.Special {
		if id < 0 || int(id) >= info.VocabSize {
			t.Errorf("Special[%q] = %d, not in [0, VocabSize=%d)", name, id, info.VocabSize)
		}
	}
	if info.Unit == "" {
		t.Error("Unit is empty (want \"byte\", \"base\", \"sample\", ...)")
	}
	if !(info.UnitsPerToken > 0) {
		t.Errorf("UnitsPerToken %v: want > 0", info.UnitsPerToken)
	}
	if len(info.FileTypes) == 0 {
		t.Error("FileTypes is empty")
	}
	for _, ft := range info.FileTypes {
		if !strings.HasPrefix(ft, ".") {
			t.Errorf("FileTypes entry %q: want a suffix starting with '.'", ft)
		}
	}
	return info
}

func checkEncode(t *testing.T, ctx context.Context, m sdk.Modality, s Samples, vocab int) [][]int32 {
	out := make([][]int32, len(s.Files))
	for i, f := range s.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		req := sdk.EncodeRequest{Data: data, Name: filepath.Base(f), Options: s.Options}
		ids, err := call(func() (sdk.Tokens, error) { return m.Encode(ctx, req) })
		if err != nil {
			t.Fatalf("Encode(%s): %v", f, err)
		}
		if len(ids) == 0 {
			t.Errorf("Encode(%s): no tokens", f)
		}
		if i, id, bad := outOfRange(ids, vocab); bad {
			t.Errorf("Encode(%s): token %d has id %d, not in [0, %d)", f, i, id, vocab)
		}
		again, err := m.Encode(ctx, req)
		if err != nil || !slices.Equal(ids, again) {
			t.Errorf("Encode(%s) is not deterministic: %s (err %v)", f, diffTokens(ids, again), err)
		}
		out[i] = ids
		checkOpen(t, ctx, m, s, f, data, ids, vocab)
	}
	// Concurrent calls must give the same answers (Modality's contract).
	var wg sync.WaitGroup
	errs := make([]error, 4*len(s.Files))
	for k := range errs {
		wg.Go(func() {
			f := s.Files[k%len(s.Files)]
			data, _ := os.ReadFile(f)
			ids, err := call(func() (sdk.Tokens, error) {
				return m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: filepath.Base(f), Options: s.Options})
			})
			if err == nil && !slices.Equal(ids, out[k%len(s.Files)]) {
				err = errors.New("different tokens")
			}
			if err != nil {
				errs[k] = fmt.Errorf("concurrent Encode(%s): %w", f, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	return out
}

// checkOpen checks Encode with Open, the prompt form: the tokens of the
// closed form without the end-of-record tokens ("eos", "sep") it ends with,
// so that a model continues the last record.
func checkOpen(t *testing.T, ctx context.Context, m sdk.Modality, s Samples, f string, data []byte, closed []int32, vocab int) {
	t.Helper()
	info, err := m.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	req := sdk.EncodeRequest{Data: data, Name: filepath.Base(f), Options: s.Options, Open: true}
	open, err := call(func() (sdk.Tokens, error) { return m.Encode(ctx, req) })
	if err != nil {
		t.Errorf("Encode(%s, Open): %v", f, err)
		return
	}
	if len(open) == 0 {
		t.Errorf("Encode(%s, Open): no tokens", f)
		return
	}
	if i, id, bad := outOfRange(open, vocab); bad {
		t.Errorf("Encode(%s, Open): token %d has id %d, not in [0, %d)", f, i, id, vocab)
	}
	end := func(id int32) bool {
		for _, k := range []string{"eos", "sep"} {
			if e, ok := info.Special[k]; ok && e == id {
				return true
			}
		}
		return false
	}
	if end(open[len(open)-1]) {
		t.Errorf("Encode(%s, Open) ends with the end-of-record token %d: the prompt's last record must stay open", f, open[len(open)-1])
	}
	trimmed := closed
	for len(trimmed) > 0 && end(trimmed[len(trimmed)-1]) {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if !slices.Equal(open, trimmed) {
		t.Errorf("Encode(%s, Open) is not Encode(%s) without its closing end-of-record tokens: %s", f, f, diffTokens(trimmed, open))
	}
}

func checkDecode(t *testing.T, ctx context.Context, m sdk.Modality, s Samples, encoded [][]int32, vocab int) {
	for i, f := range s.Files {
		if encoded == nil || encoded[i] == nil {
			continue
		}
		ids := sdk.Tokens(encoded[i])
		data, err := call(func() ([]byte, error) { return m.Decode(ctx, sdk.DecodeRequest{Tokens: ids, Options: s.Options}) })
		if err != nil {
			t.Errorf("Decode(Encode(%s)): %v", f, err)
			continue
		}
		if !s.Lossy {
			orig, _ := os.ReadFile(f)
			if !bytes.Equal(data, orig) {
				t.Errorf("Decode(Encode(%s)) differs from the file (%d bytes, want %d); set Samples.Lossy if that is intended", f, len(data), len(orig))
			}
			continue
		}
		again, err := call(func() (sdk.Tokens, error) {
			return m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: filepath.Base(f), Options: s.Options})
		})
		if err != nil {
			t.Errorf("Encode(Decode(Encode(%s))): %v", f, err)
		} else if !slices.Equal(again, ids) {
			t.Errorf("Encode(Decode(t)) != t for t = Encode(%s): %s", f, diffTokens(ids, again))
		}
	}
	for name, bad := range map[string]sdk.Tokens{
		"negative id":     {0, -1},
		"id at vocab":     {int32(vocab)},
		"id beyond vocab": {int32(vocab + 1000)},
	} {
		_, err := call(func() ([]byte, error) { return m.Decode(ctx, sdk.DecodeRequest{Tokens: bad, Options: s.Options}) })
		if err == nil {
			t.Errorf("Decode(%v) (%s): no error", bad, name)
		} else if errors.Is(err, errPanic) {
			t.Errorf("Decode(%v) (%s): %v", bad, name, err)
		}
	}
	if _, err := call(func() ([]byte, error) { return m.Decode(ctx, sdk.DecodeRequest{Options: s.Options}) }); errors.Is(err, errPanic) {
		t.Errorf("Decode(no tokens): %v", err)
	}
}

func checkBadInput(t *testing.T, ctx context.Context, m sdk.Modality, s Samples) {
	dir := t.TempDir()
	for name, data := range s.Bad {
		_, err := call(func() (sdk.Tokens, error) {
			return m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: name, Options: s.Options})
		})
		if err == nil || errors.Is(err, errPanic) {
			t.Errorf("Encode(bad input %s): %v, want an error", name, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkPrepareFails(t, ctx, m, s, []string{p}, name)
	}
	// Inputs every plugin must survive: empty and random bytes under each
	// file type may be valid or not, but must not panic.
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	for _, data := range [][]byte{nil, {}, junk, junk[:3]} {
		_, err := call(func() (sdk.Tokens, error) {
			return m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: filepath.Base(s.Files[0]), Options: s.Options})
		})
		if errors.Is(err, errPanic) {
			t.Errorf("Encode(%d bytes of junk): %v", len(data), err)
		}
	}
	missing := filepath.Join(dir, "does-not-exist"+filepath.Ext(s.Files[0]))
	checkPrepareFails(t, ctx, m, s, []string{missing}, "does-not-exist")
	empty := filepath.Join(dir, "empty-dir")
	os.Mkdir(empty, 0o755)
	checkPrepareFails(t, ctx, m, s, []string{empty}, "empty-dir")
}

// checkPrepareFails checks that Prepare rejects inputs with an error that
// names mention, and leaves no dataset.
func checkPrepareFails(t *testing.T, ctx context.Context, m sdk.Modality, s Samples, inputs []string, mention string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ds")
	_, err := call(func() (sdk.Dataset, error) {
		return m.Prepare(ctx, sdk.PrepareRequest{Inputs: inputs, OutDir: out, Options: s.Options, Seed: 1, ValidFraction: 0.1})
	})
	switch {
	case err == nil:
		t.Errorf("Prepare(%s): no error", mention)
	case errors.Is(err, errPanic):
		t.Errorf("Prepare(%s): %v", mention, err)
	case !strings.Contains(err.Error(), mention):
		t.Errorf("Prepare(%s): error %q does not name the input", mention, err)
	case strings.Contains(err.Error(), "\n"):
		t.Errorf("Prepare(%s): error %q has more than one line", mention, err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("Prepare(%s) failed but left %s", mention, out)
	}
}

func checkPrepare(t *testing.T, ctx context.Context, m sdk.Modality, s Samples) map[string][]byte {
	base := t.TempDir()
	prepare := func(dir string, seed uint64) (sdk.Dataset, error) {
		return call(func() (sdk.Dataset, error) {
			return m.Prepare(ctx, sdk.PrepareRequest{Inputs: s.Files, OutDir: dir, Options: s.Options, Seed: seed, ValidFraction: 0.2})
		})
	}
	a := filepath.Join(base, "a")
	ds, err := prepare(a, 7)
	if err != nil {
		t.Fatalf("Prepare(%v): %v", s.Files, err)
	}
	mf, err := sdk.ReadDataset(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := mf.Dataset(ds.Dir); fmt.Sprint(ds) != fmt.Sprint(want) {
		t.Errorf("Prepare returned %+v, but dataset.json says %+v", ds, want)
	}
	if abs, _ := filepath.Abs(a); ds.Dir != abs {
		t.Errorf("Dataset.Dir = %q, want %q", ds.Dir, abs)
	}
	for _, split := range []string{"train", "valid"} {
		sd, err := sdk.OpenSplit(a, split)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(sd.Tokens) == 0 {
			t.Errorf("split %s is empty", split)
		}
		sd.Close()
	}
	for _, art := range ds.Artifacts {
		if _, err := os.Stat(filepath.Join(a, art)); err != nil {
			t.Errorf("artifact: %v", err)
		}
	}
	b := filepath.Join(base, "b")
	if _, err := prepare(b, 7); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	compareDirs(t, "first Prepare", readDir(t, a), "second Prepare", readDir(t, b))
	// A rerun into an existing dataset replaces it.
	if _, err := prepare(a, 7); err != nil {
		t.Errorf("Prepare over an existing dataset: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c := filepath.Join(base, "cancelled")
	_, err = call(func() (sdk.Dataset, error) {
		return m.Prepare(cctx, sdk.PrepareRequest{Inputs: s.Files, OutDir: c, Options: s.Options, Seed: 7, ValidFraction: 0.2})
	})
	if err == nil || errors.Is(err, errPanic) {
		t.Errorf("Prepare with a cancelled context: %v, want an error", err)
	}
	if _, err := os.Stat(c); err == nil {
		t.Errorf("Prepare with a cancelled context left %s", c)
	}
	return readDir(t, a)
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

func compareDirs(t *testing.T, na string, a map[string][]byte, nb string, b map[string][]byte) {
	t.Helper()
	for name, da := range a {
		db, ok := b[name]
		switch {
		case !ok:
			t.Errorf("%s wrote %s, %s did not", na, name, nb)
		case !bytes.Equal(da, db):
			t.Errorf("%s differs between %s and %s (same inputs, options and seed)", name, na, nb)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("%s wrote %s, %s did not", nb, name, na)
		}
	}
}

var errPanic = errors.New("panicked")

// call runs f and turns a panic into an error wrapping errPanic.
func call[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	v, err = f()
	if err != nil && strings.Contains(err.Error(), " panicked: ") {
		// A panic the SDK's server recovered (the gRPC pass).
		err = fmt.Errorf("%w: %v", errPanic, err)
	}
	return v, err
}

func outOfRange(ids []int32, vocab int) (int, int32, bool) {
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return i, id, true
		}
	}
	return 0, 0, false
}

func diffTokens(a, b []int32) string {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at token %d: %d vs %d", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
	}
	return "equal"
}
