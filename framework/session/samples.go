package session

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// samples holds a small, redistributable sample of each built-in modality
// (sources and licenses: samples/README.md), so train works on a fresh
// clone without --data.
//
//go:embed samples/text.txt.gz samples/dna.fa.gz samples/audio/*.wav
var samples embed.FS

// sampleFiles maps a modality to its sample inside samples.
var sampleFiles = map[string]string{
	"text":  "samples/text.txt.gz",
	"dna":   "samples/dna.fa.gz",
	"audio": "samples/audio",
}

// BundledSample writes the bundled sample of modality under dir (once)
// and returns the path to pass to the plugin.
func BundledSample(modality, dir string) (string, error) {
	src, ok := sampleFiles[modality]
	if !ok {
		return "", fmt.Errorf("no bundled sample for modality %q (bundled: text, dna, audio): give --data", modality)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	err := fs.WalkDir(samples, src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if path == src { // a single file
			out = dst
		}
		b, err := samples.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("write bundled sample: %w", err)
	}
	return dst, nil
}
