//go:build faults && linux

package faults

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile is one command given an input that must be refused in one line,
// quickly, without a hang or a panic, leaving the inputs as they were.
type hostile struct {
	name  string
	setup func(t *testing.T, d string) []string // writes the inputs into d, returns the command
	want  []string                              // in the error line
	maxMB int64                                 // peak RSS of the host or a plugin (default 600)
	limit time.Duration                         // default 20 s
}

// TestHostileInputs: FIFOs and devices where files are expected, huge
// lines and files, gzip bombs, empty and headers-only FASTA, corrupt and
// hostile WAVs, truncated token files.
func TestHostileInputs(t *testing.T) {
	ref := reference(t) // a checkpoint for eval, score, generate
	fifo := func(t *testing.T, d string) string {
		p := filepath.Join(d, "fifo")
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(t *testing.T, d, name string, b []byte) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sparse := func(t *testing.T, d, name string, size int64) string {
		p := write(t, d, name, nil)
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gzipZeros := func(t *testing.T, d, name string, n int) string {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zero := make([]byte, 1<<20)
		for range n >> 20 {
			zw.Write(zero)
		}
		zw.Close()
		return write(t, d, name, b.Bytes())
	}
	notRegular := []string{"not a regular file"}
	cases := []hostile{
		{name: "encode FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "text", fifo(t, d), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"named pipe", "not a regular file"}},
		{name: "encode /dev/zero", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "text", "/dev/zero", "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"/dev/zero", "character device"}},
		{name: "decode FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"decode", "--modality", "dna", fifo(t, d), "-o", filepath.Join(d, "x.fa")}
		}, want: notRegular},
		{name: "prepare FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"prepare", "--modality", "dna", "--data", fifo(t, d), "-o", filepath.Join(d, "ds")}
		}, want: notRegular},
		{name: "train --data FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"train", "--modality", "dna", "--data", fifo(t, d), "--out", filepath.Join(d, "run"), "--preset", "tiny"}
		}, want: notRegular},
		{name: "train --config FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"train", "--modality", "dna", "--config", fifo(t, d), "--out", filepath.Join(d, "run")}
		}, want: notRegular},
		{name: "eval --data /dev/zero", setup: func(t *testing.T, d string) []string {
			return []string{"eval", "--checkpoint", ref, "--data", "/dev/zero"}
		}, want: notRegular},
		{name: "score FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"score", "--checkpoint", ref, fifo(t, d)}
		}, want: notRegular},
		{name: "generate --prompt-file FIFO", setup: func(t *testing.T, d string) []string {
			return []string{"generate", "--checkpoint", ref, "--prompt-file", fifo(t, d), "--tokens", "4"}
		}, want: notRegular},
		{name: "encode --tokenizer /dev/urandom", setup: func(t *testing.T, d string) []string {
			in := write(t, d, "a.txt", []byte("hello\n"))
			return []string{"encode", "--modality", "text", "--tokenizer", "/dev/urandom", in, "-o", filepath.Join(d, "x.tok")}
		}, want: notRegular},
		{name: "encode 70 MB one-line text", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "text", sparse(t, d, "huge.txt", 70<<20), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"70.0 MiB", "prepare"}, limit: 5 * time.Second},
		{name: "prepare 70 MB one-line text", setup: func(t *testing.T, d string) []string {
			return []string{"prepare", "--modality", "text", "--data", sparse(t, d, "huge.txt", 70<<20), "-o", filepath.Join(d, "ds")}
		}, want: []string{"max_doc_bytes"}},
		{name: "encode 100 MB one-line FASTA", setup: func(t *testing.T, d string) []string {
			p := sparse(t, d, "huge.fa", 100<<20)
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt([]byte(">chr\nACGT"), 0)
			f.Close()
			return []string{"encode", "--modality", "dna", p, "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"100.0 MiB", "prepare"}, limit: 5 * time.Second},
		{name: "encode text gzip bomb (1.7 MB to 400 MB)", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "text", gzipZeros(t, d, "bomb.txt.gz", 400<<20), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"bomb.txt.gz", "prepare"}},
		{name: "encode FASTA gzip bomb", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "dna", gzipZeros(t, d, "bomb.fa.gz", 400<<20), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"bomb.fa.gz"}},
		{name: "encode empty FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "dna", write(t, d, "e.fa", nil), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"e.fa", "empty"}},
		{name: "prepare empty FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"prepare", "--modality", "dna", "--data", write(t, d, "e.fa", nil), "-o", filepath.Join(d, "ds")}
		}, want: []string{"e.fa", "empty"}},
		{name: "encode headers-only FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "dna", write(t, d, "h.fa", []byte(">a\n>b\n>c\n")), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"h.fa", "no bases"}},
		{name: "prepare headers-only FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"prepare", "--modality", "dna", "--data", write(t, d, "h.fa", []byte(">a\n>b\n")), "-o", filepath.Join(d, "ds")}
		}, want: []string{"h.fa", "no bases"}},
		{name: "train on headers-only FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"train", "--modality", "dna", "--data", write(t, d, "h.fa", []byte(">a\n")), "--out", filepath.Join(d, "run"), "--preset", "tiny"}
		}, want: []string{"h.fa", "no bases"}},
		{name: "encode binary as FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"encode", "--modality", "dna", write(t, d, "bin.fa", []byte("\x00\x01\x02\xff garbage")), "-o", filepath.Join(d, "x.tok")}
		}, want: []string{"bin.fa"}},
		{name: "FASTQ with a short quality line", setup: func(t *testing.T, d string) []string {
			return []string{"prepare", "--modality", "dna", "--data", write(t, d, "r.fq", []byte("@r1\nACGTACGT\n+\nIII\n")), "-o", filepath.Join(d, "ds")}
		}, want: []string{"r.fq"}},
		{name: "decode truncated binary token file", setup: func(t *testing.T, d string) []string {
			return []string{"decode", "--modality", "dna", write(t, d, "t.tokens", []byte{5, 0, 0, 0, 6, 0, 0}), "-o", filepath.Join(d, "x.fa")}
		}, want: []string{"t.tokens", "7 bytes is not a multiple of 4"}},
		{name: "decode token file with a word", setup: func(t *testing.T, d string) []string {
			return []string{"decode", "--modality", "dna", write(t, d, "t.txt", []byte("5\n6\nseven\n")), "-o", filepath.Join(d, "x.fa")}
		}, want: []string{"t.txt", "line 3"}},
		{name: "decode token id out of vocabulary", setup: func(t *testing.T, d string) []string {
			return []string{"decode", "--modality", "dna", write(t, d, "t.txt", []byte("5\n4000000000\n")), "-o", filepath.Join(d, "x.fa")}
		}, want: []string{"t.txt"}},
		{name: "score a headers-only FASTA", setup: func(t *testing.T, d string) []string {
			return []string{"score", "--checkpoint", ref, write(t, d, "h.fa", []byte(">only\n"))}
		}, want: []string{"h.fa", "no bases"}},
	}
	for name, wavBytes := range badWAVs() {
		for _, cmd := range []string{"encode", "prepare"} {
			want := []string{name + ".wav"}
			cases = append(cases, hostile{name: cmd + " WAV " + name, setup: func(t *testing.T, d string) []string {
				p := write(t, d, name+".wav", wavBytes)
				if cmd == "encode" {
					return []string{"encode", "--modality", "audio", p, "-o", filepath.Join(d, "x.tok")}
				}
				return []string{"prepare", "--modality", "audio", "--data", p, "-o", filepath.Join(d, "ds")}
			}, want: want})
		}
	}
	for _, c := range cases {
		try(t, classInputs, c.name, func(t *testing.T) {
			d := dir(t)
			args := c.setup(t, d)
			before := snapshot(t, d)
			limit := c.limit
			if limit == 0 {
				limit = 20 * time.Second
			}
			r := start(t, d, nil, limit, args...).wait()
			refused(t, r, c.want...)
			if max := c.maxMB; r.maxRSSMB > max && max > 0 || max == 0 && r.maxRSSMB > 600 {
				t.Errorf("peak RSS %d MB", r.maxRSSMB)
			}
			// Nothing written but a run directory's lock (a refused train
			// owned its directory for a moment).
			after := snapshot(t, d)
			for p := range after {
				if _, ok := before[p]; !ok && filepath.Base(p) != ".lock" {
					t.Errorf("left behind: %s", p)
				}
			}
			for p, b := range before {
				if after[p] != b {
					t.Errorf("changed: %s", p)
				}
			}
			noLeftovers(t)
			t.Logf("%s: %s (%v, %d MB)", c.name, strings.TrimSpace(r.stderr), r.elapsed.Round(time.Millisecond), r.maxRSSMB)
		})
	}
}

// badWAVs are WAV files that must be refused: empty, a header with no
// audio, a data chunk longer than the file, random bytes, an MP3 under a
// .wav name, 65 channels, a NaN float sample, and a 10 KB file at 1 Hz
// that resampling to 16 kHz would turn into 160 M samples.
func badWAVs() map[string][]byte {
	le := binary.LittleEndian
	wav := func(format, channels, rate, bits int, data []byte, dataSize uint32) []byte {
		var b bytes.Buffer
		b.WriteString("RIFF")
		binary.Write(&b, le, uint32(36+len(data)))
		b.WriteString("WAVEfmt ")
		binary.Write(&b, le, uint32(16))
		binary.Write(&b, le, uint16(format))
		binary.Write(&b, le, uint16(channels))
		binary.Write(&b, le, uint32(rate))
		binary.Write(&b, le, uint32(rate*channels*bits/8))
		binary.Write(&b, le, uint16(channels*bits/8))
		binary.Write(&b, le, uint16(bits))
		b.WriteString("data")
		binary.Write(&b, le, dataSize)
		b.Write(data)
		return b.Bytes()
	}
	pcm := func(n int) []byte {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(128 + i%50)
		}
		return d
	}
	nan := make([]byte, 8)
	le.PutUint32(nan[4:], math.Float32bits(float32(math.NaN())))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	return map[string][]byte{
		"empty":        nil,
		"header-only":  wav(1, 1, 16000, 16, nil, 0),
		"truncated":    wav(1, 1, 16000, 16, pcm(100), 32000),
		"size-4GiB":    wav(1, 1, 16000, 16, pcm(100), 0xffffffff),
		"random-bytes": random,
		"mp3":          append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), random...),
		"65-channels":  wav(1, 65, 16000, 16, pcm(65*2*10), 65*2*10),
		"nan-float":    wav(3, 1, 16000, 32, nan, 8),
		"1hz-upsample": wav(1, 1, 1, 8, pcm(10000), 10000),
	}
}
