package session

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/framework/safetensors"
	"github.com/mambakit/mambakit/framework/train"
)

// exportSource writes a model directory with a run record and a
// tokenizer beside the weights, as a text checkpoint has them.
func exportSource(t *testing.T) (string, *backbone.Model) {
	t.Helper()
	m, err := backbone.New(backbone.NewConfig(64, 32, 2), 5)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "src")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{train.ModelRecordFile: `{"format": 1, "modality": {"name": "text", "version": "0.1.0", "unit": "byte"}, "vocab_size": 64}` + "\n", TokenizerFile: `{"model":{}}` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, m
}

// TestExport: a bf16 export holds the weights rounded to bfloat16 (BF16
// in the file, "bfloat16" in config.json), the run record and the
// tokenizer byte for byte, and nothing else; an fp32 export holds the
// weights bit for bit. Neither leaves a temporary directory behind.
func TestExport(t *testing.T) {
	src, m := exportSource(t)
	for _, dtype := range []string{backbone.BFloat16, backbone.Float32} {
		out := filepath.Join(t.TempDir(), "model")
		from, err := Export(src, out, dtype)
		if err != nil {
			t.Fatal(err)
		}
		if from != src {
			t.Errorf("%s: exported from %s, want %s", dtype, from, src)
		}
		ents, _ := os.ReadDir(out)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if want := []string{"config.json", train.ModelRecordFile, "model.safetensors", TokenizerFile}; !slices.Equal(names, want) {
			t.Errorf("%s: files %v, want %v", dtype, names, want)
		}
		for _, f := range []string{train.ModelRecordFile, TokenizerFile} {
			a, _ := os.ReadFile(filepath.Join(src, f))
			b, _ := os.ReadFile(filepath.Join(out, f))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s not copied as it is", dtype, f)
			}
		}
		got, err := backbone.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if got.Config.DType != dtype {
			t.Errorf("config.json dtype %q, want %q", got.Config.DType, dtype)
		}
		st, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := st.Info("backbone.embeddings.weight")
		wantDT := map[string]safetensors.DType{backbone.BFloat16: "BF16", backbone.Float32: "F32"}[dtype]
		if info.DType != wantDT {
			t.Errorf("%s: stored as %s, want %s", dtype, info.DType, wantDT)
		}
		for i, x := range m.Params.Data {
			want := x
			if dtype == backbone.BFloat16 {
				want = kernels.FromBF16(kernels.RoundBF16(x))
			}
			if got.Params.Data[i] != want {
				t.Fatalf("%s: weight %d = %v, want %v", dtype, i, got.Params.Data[i], want)
			}
		}
		left, _ := os.ReadDir(filepath.Dir(out))
		if len(left) != 1 {
			t.Errorf("%s: the export's parent holds %d entries, want the model directory only", dtype, len(left))
		}
	}
}

// TestExportRefuses: an export never writes over what is at out (a file,
// a directory with anything in it), refuses a dtype it does not know, and
// a source that is not a model leaves out absent.
func TestExportRefuses(t *testing.T) {
	src, _ := exportSource(t)
	base := t.TempDir()
	full := filepath.Join(base, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644)
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("mine"), 0o644)
	for _, c := range []struct {
		src, out, dtype, want string
	}{
		{src, full, backbone.BFloat16, "is not empty"},
		{src, file, backbone.BFloat16, "not a directory"},
		{src, filepath.Join(base, "new"), "float16", `dtype "float16"`},
		{filepath.Join(base, "nothing"), filepath.Join(base, "new"), backbone.Float32, "nothing"},
	} {
		_, err := Export(c.src, c.out, c.dtype)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Export(%s, %s, %s) = %v, want an error saying %q", c.src, c.out, c.dtype, err, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(b) != "mine" {
		t.Error("the non-empty directory's file changed")
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Error("the file at out changed")
	}
	if _, err := os.Stat(filepath.Join(base, "new")); !os.IsNotExist(err) {
		t.Errorf("a refused export left %s: %v", filepath.Join(base, "new"), err)
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != 2 {
		t.Errorf("%d entries beside the refused exports, want the two that were there", len(ents))
	}
	// An empty directory is taken.
	empty := filepath.Join(base, "empty")
	os.MkdirAll(empty, 0o755)
	if _, err := Export(src, empty, backbone.Float32); err != nil {
		t.Errorf("export into an empty directory: %v", err)
	}
}
