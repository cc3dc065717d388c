package sdk

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeDataset writes docs with a DatasetWriter and returns the result.
func writeDataset(t *testing.T, req PrepareRequest, docs []Tokens) Dataset {
	t.Helper()
	w, err := NewDatasetWriter(req)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, d := range docs {
		if err := w.Add(d, int64(2*len(d))); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// readAll loads both splits and returns each split's documents.
func readAll(t *testing.T, dir string) (train, valid []Tokens) {
	t.Helper()
	for _, name := range []string{"train", "valid"} {
		sd, err := OpenSplit(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		var docs []Tokens
		for i, start := range sd.Docs {
			end := int64(len(sd.Tokens))
			if i+1 < len(sd.Docs) {
				end = sd.Docs[i+1]
			}
			docs = append(docs, slices.Clone(sd.Tokens[start:end]))
		}
		if err := sd.Close(); err != nil {
			t.Fatal(err)
		}
		if name == "train" {
			train = docs
		} else {
			valid = docs
		}
	}
	return train, valid
}

func TestDatasetWriterRoundTrip(t *testing.T) {
	var docs []Tokens
	for i := range 200 {
		d := make(Tokens, 1+i%7)
		for j := range d {
			d[j] = int32(i*7+j) % 50
		}
		docs = append(docs, d)
	}
	dir := filepath.Join(t.TempDir(), "ds")
	req := PrepareRequest{OutDir: dir, Seed: 1, ValidFraction: 0.1}
	ds := writeDataset(t, req, docs)
	if ds.VocabSize != 50 {
		t.Errorf("VocabSize = %d, want 50", ds.VocabSize)
	}
	if ds.Train.Documents+ds.Valid.Documents != 200 {
		t.Errorf("documents %d + %d, want 200", ds.Train.Documents, ds.Valid.Documents)
	}
	if ds.Valid.Documents < 5 || ds.Valid.Documents > 40 {
		t.Errorf("valid documents = %d, want about 20", ds.Valid.Documents)
	}
	train, valid := readAll(t, dir)
	// Every document is in exactly one split, in order.
	var got []Tokens
	ti, vi := 0, 0
	for i := range docs {
		if splitDraw(1, uint64(i)) < 0.1 {
			got = append(got, valid[vi])
			vi++
		} else {
			got = append(got, train[ti])
			ti++
		}
	}
	for i := range docs {
		if !slices.Equal(got[i], docs[i]) {
			t.Fatalf("document %d = %v, want %v", i, got[i], docs[i])
		}
	}
	if ds.Train.Units != 2*ds.Train.Tokens || ds.Valid.Units != 2*ds.Valid.Tokens {
		t.Errorf("units %+v %+v, want twice the tokens", ds.Train, ds.Valid)
	}
	if _, err := os.Stat(partialName(dir)); !os.IsNotExist(err) {
		t.Errorf("temporary directory left behind: %v", err)
	}
}

func TestDatasetWriterDeterministic(t *testing.T) {
	docs := []Tokens{{1, 2, 3}, {4, 5}, {6}, {7, 8, 9, 10}, {11}, {12, 13}}
	base := t.TempDir()
	files := func(dir string) map[string][]byte {
		m := map[string][]byte{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			m[e.Name()] = b
		}
		return m
	}
	a := filepath.Join(base, "a")
	b := filepath.Join(base, "b")
	writeDataset(t, PrepareRequest{OutDir: a, Seed: 9, ValidFraction: 0.3}, docs)
	writeDataset(t, PrepareRequest{OutDir: b, Seed: 9, ValidFraction: 0.3}, docs)
	fa, fb := files(a), files(b)
	if len(fa) != 5 {
		t.Errorf("files %v, want dataset.json and 4 split files", slices.Sorted(func(y func(string) bool) {
			for k := range fa {
				y(k)
			}
		}))
	}
	for name := range fa {
		if !bytes.Equal(fa[name], fb[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
}

func TestDatasetWriterBalances(t *testing.T) {
	tests := map[string]struct {
		docs        []Tokens
		frac        float64
		trainTokens int64
		validTokens int64
	}{
		"one document": {docs: []Tokens{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, frac: 0.2, trainTokens: 8, validTokens: 2},
		"two tokens":   {docs: []Tokens{{1, 2}}, frac: 0.5, trainTokens: 1, validTokens: 1},
		"tiny fraction": {
			docs: []Tokens{{1, 2}, {3, 4}, {5}}, frac: 1e-9, trainTokens: 4, validTokens: 1,
		},
		"huge fraction": {
			docs: []Tokens{{1, 2}, {3, 4}, {5}}, frac: 1 - 1e-9, trainTokens: 1, validTokens: 4,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			ds := writeDataset(t, PrepareRequest{OutDir: dir, ValidFraction: tt.frac}, tt.docs)
			if ds.Train.Tokens != tt.trainTokens || ds.Valid.Tokens != tt.validTokens {
				t.Errorf("train %d valid %d tokens, want %d and %d", ds.Train.Tokens, ds.Valid.Tokens, tt.trainTokens, tt.validTokens)
			}
			train, valid := readAll(t, dir)
			var all Tokens
			for _, d := range slices.Concat(train, valid) {
				all = append(all, d...)
			}
			slices.Sort(all)
			want := slices.Concat(tt.docs...)
			if !slices.Equal(all, want) {
				t.Errorf("tokens %v, want %v", all, want)
			}
			if ds.Train.Units+ds.Valid.Units != 2*int64(len(want)) {
				t.Errorf("units %d + %d, want %d", ds.Train.Units, ds.Valid.Units, 2*len(want))
			}
		})
	}
}

func TestDatasetWriterErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDatasetWriter(PrepareRequest{OutDir: dir, ValidFraction: 0.1}); err == nil {
		t.Error("writing over a non-empty non-dataset directory: no error")
	}
	// A dataset with a stranger in it is not replaced either.
	ds := filepath.Join(dir, "ds")
	writeDataset(t, PrepareRequest{OutDir: ds, ValidFraction: 0.5}, []Tokens{{1, 2}})
	os.WriteFile(filepath.Join(ds, ".mambakit-prepare-key"), []byte("k"), 0o644)
	if _, err := NewDatasetWriter(PrepareRequest{OutDir: ds, ValidFraction: 0.1}); err != nil {
		t.Errorf("dataset with the host's key file: %v", err)
	}
	os.WriteFile(filepath.Join(ds, "notes.md"), []byte("mine"), 0o644)
	if _, err := NewDatasetWriter(PrepareRequest{OutDir: ds, ValidFraction: 0.1}); err == nil || !strings.Contains(err.Error(), "also notes.md") {
		t.Errorf("dataset with another file: %v", err)
	}
	if _, err := NewDatasetWriter(PrepareRequest{OutDir: filepath.Join(dir, "x"), ValidFraction: 0}); err == nil {
		t.Error("valid fraction 0: no error")
	}
	w, err := NewDatasetWriter(PrepareRequest{OutDir: filepath.Join(dir, "empty"), ValidFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(Tokens{1, -1}, 2); err == nil {
		t.Error("negative id: no error")
	}
	if _, err := w.Finish(); err == nil {
		t.Error("empty dataset: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "empty")); !os.IsNotExist(err) {
		t.Errorf("failed Finish left a dataset: %v", err)
	}
	w, err = NewDatasetWriter(PrepareRequest{OutDir: filepath.Join(dir, "v"), ValidFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	w.SetVocabSize(4)
	w.Add(Tokens{1, 2, 3, 4}, 4)
	if _, err := w.Finish(); err == nil {
		t.Error("id 4 with vocabulary 4: no error")
	}
	for _, name := range []string{"", "../x", "a/b", DatasetManifest, "train.tokens"} {
		w, _ := NewDatasetWriter(PrepareRequest{OutDir: filepath.Join(dir, "art"), ValidFraction: 0.1})
		if err := w.AddArtifact(name, nil); err == nil {
			t.Errorf("artifact %q: no error", name)
		}
		w.Abort()
	}
}

// TestDatasetWriterReplaces checks that a rerun replaces an earlier dataset
// and cleans up what a killed run left.
func TestDatasetWriterReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	writeDataset(t, PrepareRequest{OutDir: dir, ValidFraction: 0.5}, []Tokens{{1, 2, 3}})
	// A killed writer leaves its partial directory.
	w, err := NewDatasetWriter(PrepareRequest{OutDir: dir, ValidFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	w.Add(Tokens{9, 9}, 2)
	if _, err := os.Stat(partialName(dir)); err != nil {
		t.Fatal(err)
	}
	ds := writeDataset(t, PrepareRequest{OutDir: dir, ValidFraction: 0.5}, []Tokens{{4, 5}, {6, 7}, {8}})
	if got := ds.Train.Tokens + ds.Valid.Tokens; got != 5 {
		t.Errorf("tokens = %d, want 5", got)
	}
	w.Abort() // the old writer's directory is gone already; must not panic
	for _, p := range []string{partialName(dir), oldName(dir)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", p)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "train.tokens"), []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSplit(dir, "train"); err == nil {
		t.Error("truncated token file: no error")
	}
}

func FuzzDatasetManifest(f *testing.F) {
	f.Add([]byte(`{"format":"mambakit-dataset/v1","vocab_size":3,"train":{"file":"train.tokens","docs_file":"train.docs","tokens":2,"documents":1},"valid":{"file":"valid.tokens","docs_file":"valid.docs","tokens":1,"documents":1}}`), []byte{0, 0, 0, 0, 0, 0, 0, 0}, int64(2))
	f.Add([]byte(`{}`), []byte{1}, int64(0))
	f.Fuzz(func(t *testing.T, manifest, docs []byte, n int64) {
		if mf, err := parseManifest(manifest); err == nil {
			_ = mf.Dataset("x")
		}
		d, err := decodeDocs(docs, n)
		if err == nil {
			for i := range d {
				if d[i] < 0 || d[i] >= n || (i > 0 && d[i] <= d[i-1]) {
					t.Fatalf("accepted bad offsets %v for %d tokens", d, n)
				}
			}
		}
	})
}

// BenchmarkDatasetWriter measures writing a dataset: 1 M tokens in
// documents of 1000, including the fsyncs and the rename.
func BenchmarkDatasetWriter(b *testing.B) {
	doc := make(Tokens, 1000)
	for i := range doc {
		doc[i] = int32(i % 256)
	}
	dir := b.TempDir()
	b.SetBytes(4 * 1000 * 1000) // bytes of token ids
	for b.Loop() {
		w, err := NewDatasetWriter(PrepareRequest{OutDir: filepath.Join(dir, "ds"), ValidFraction: 0.05})
		if err != nil {
			b.Fatal(err)
		}
		for range 1000 {
			w.Add(doc, 1000)
		}
		if _, err := w.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "tokens/s")
}
