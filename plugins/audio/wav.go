package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/go-audio/wav"
)

// WAVE format tags (the fmt chunk's first field).
const (
	formatPCM        = 1
	formatFloat      = 3
	formatALaw       = 6
	formatMuLaw      = 7
	formatExtensible = 0xFFFE
)

// Limits on what a header may say. They keep a corrupt header from
// sending a decoder on a huge allocation or a long run.
const (
	maxChannels = 64
	maxRate     = 768000
	// maxSamples bounds the samples (all channels) decoded from one clip,
	// and so the work a small compressed file can cause (a FLAC frame of
	// constant samples takes a few bytes). It is 2.3 hours of 16 kHz mono.
	maxSamples = 1 << 27
)

// riffInfo is what scanRIFF finds: the fmt chunk and where the samples are.
type riffInfo struct {
	fmtBody    []byte // the fmt chunk's body, as in the file
	format     int    // format tag; for WAVE_FORMAT_EXTENSIBLE the sub-format
	channels   int
	rate       int
	blockAlign int
	bits       int
	data       []byte // the data chunk's body, exactly its declared size
}

// scanRIFF walks the RIFF chunk list of a WAV file and checks the header
// before any library sees it: the container, the fmt fields, and that every
// size fits in the file. Errors say what is wrong in words a user can act on.
func scanRIFF(b []byte) (riffInfo, error) {
	var ri riffInfo
	if len(b) == 0 {
		return ri, errors.New("empty file")
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return ri, notWAV(b)
	}
	pos := 12
	for {
		if pos+8 > len(b) {
			if ri.fmtBody == nil {
				return ri, errors.New("no fmt chunk: not a complete WAV header (truncated file?)")
			}
			return ri, errors.New("no data chunk: the file ends before any audio (truncated file?)")
		}
		id := string(b[pos : pos+4])
		size := int64(binary.LittleEndian.Uint32(b[pos+4 : pos+8]))
		body := int64(pos + 8)
		end := body + size
		switch id {
		case "fmt ":
			if end > int64(len(b)) {
				return ri, fmt.Errorf("truncated: the fmt chunk declares %d bytes, the file holds %d", size, int64(len(b))-body)
			}
			if err := ri.parseFmt(b[body:end]); err != nil {
				return ri, err
			}
		case "data":
			if ri.fmtBody == nil {
				return ri, errors.New("the data chunk comes before the fmt chunk")
			}
			if end > int64(len(b)) {
				return ri, fmt.Errorf("truncated: the data chunk declares %d bytes of audio, the file holds %d", size, int64(len(b))-body)
			}
			ri.data = b[body:end]
			return ri, nil
		default:
			if end > int64(len(b)) {
				return ri, fmt.Errorf("truncated or corrupt: chunk %q declares %d bytes, the file holds %d", printable(id), size, int64(len(b))-body)
			}
		}
		pos = int(end + size&1) // chunks are word aligned
	}
}

func (ri *riffInfo) parseFmt(f []byte) error {
	if len(f) < 16 {
		return fmt.Errorf("fmt chunk of %d bytes is too short (want at least 16)", len(f))
	}
	le := binary.LittleEndian
	ri.fmtBody = f
	ri.format = int(le.Uint16(f[0:]))
	ri.channels = int(le.Uint16(f[2:]))
	ri.rate = int(le.Uint32(f[4:]))
	ri.blockAlign = int(le.Uint16(f[12:]))
	ri.bits = int(le.Uint16(f[14:]))
	if ri.format == formatExtensible {
		if len(f) < 26 {
			return errors.New("WAVE_FORMAT_EXTENSIBLE fmt chunk is too short for its sub-format")
		}
		ri.format = int(le.Uint16(f[24:])) // first two bytes of the sub-format GUID
	}
	switch {
	case ri.format == formatALaw || ri.format == formatMuLaw:
		return fmt.Errorf("G.711 %s-encoded WAV is not supported; convert it to PCM (sox in.wav -e signed -b 16 out.wav)",
			map[int]string{formatALaw: "A-law", formatMuLaw: "µ-law"}[ri.format])
	case ri.format != formatPCM && ri.format != formatFloat:
		return fmt.Errorf("WAV format tag 0x%04x (compressed audio?) is not supported; want PCM (1) or IEEE float (3)", ri.format)
	case ri.format == formatPCM && ri.bits != 8 && ri.bits != 16 && ri.bits != 24 && ri.bits != 32:
		return fmt.Errorf("%d-bit PCM is not supported; want 8, 16, 24 or 32 bits", ri.bits)
	case ri.format == formatFloat && ri.bits != 32:
		return fmt.Errorf("%d-bit float WAV is not supported; want 32-bit float", ri.bits)
	case ri.channels < 1 || ri.channels > maxChannels:
		return fmt.Errorf("the header says %d channels; want 1 to %d", ri.channels, maxChannels)
	case ri.rate < 1 || ri.rate > maxRate:
		return fmt.Errorf("the header says %d samples per second; want 1 to %d", ri.rate, maxRate)
	case ri.blockAlign != ri.channels*ri.bits/8:
		return fmt.Errorf("inconsistent header: block align %d, want channels × bytes per sample = %d", ri.blockAlign, ri.channels*ri.bits/8)
	}
	return nil
}

// notWAV explains what a file that is not RIFF/WAVE looks like instead.
func notWAV(b []byte) error {
	head := b[:min(len(b), 12)]
	switch {
	case bytes.HasPrefix(head, []byte("RIFX")), bytes.HasPrefix(head, []byte("RF64")):
		return fmt.Errorf("%s (big-endian or 64-bit RIFF) WAV is not supported", head[:4])
	case len(head) == 12 && bytes.HasPrefix(head, []byte("RIFF")):
		return fmt.Errorf("not a WAV file: a RIFF file of type %q", printable(string(head[8:12])))
	case len(head) < 12 && bytes.HasPrefix([]byte("RIFF"), head[:min(len(head), 4)]):
		return fmt.Errorf("truncated: %d bytes, shorter than a WAV header", len(b))
	}
	return fmt.Errorf("not a WAV file: it starts with %q, want \"RIFF....WAVE\"", printable(string(head[:min(len(head), 8)])))
}

func printable(s string) string {
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, []byte(s)))
}

// openWAV opens a WAV file: PCM 8, 16, 24 or 32-bit, or 32-bit float, any
// channel count. Its samples are decoded maxChunkFrames frames at a time.
func openWAV(b []byte) (pcm, error) {
	ri, err := scanRIFF(b)
	if err != nil {
		return pcm{}, err
	}
	if len(ri.data) < ri.blockAlign {
		return pcm{}, errors.New("no audio: the data chunk holds no complete sample frame")
	}
	frames := len(ri.data) / ri.blockAlign
	if n := frames * ri.channels; n > maxSamples {
		return pcm{}, fmt.Errorf("too long: %d samples, more than the %d decoded at once; split the file into shorter clips", n, maxSamples)
	}
	pos := 0
	var buf []float64
	next := func() ([]float64, error) {
		if pos == frames {
			return nil, io.EOF
		}
		n := min(maxChunkFrames, frames-pos)
		chunk := ri
		chunk.data = ri.data[pos*ri.blockAlign : (pos+n)*ri.blockAlign]
		pos += n
		buf, err = decodeWAV(chunk, pos-n, buf[:0])
		return buf, err
	}
	return pcm{rate: ri.rate, channels: ri.channels, frames: int64(frames), next: next}, nil
}

// decodeWAV decodes the samples of ri.data (whole frames, the first being
// frame first of the file) into dst, in [-1, 1].
//
// The samples are decoded by github.com/go-audio/wav. This function is the
// one place that works around its defects (each has a test in wav_test.go):
//
//  1. It returns IEEE float samples as their raw bits in an int: they are
//     turned back into float32 here.
//  2. It returns 8-bit samples unsigned (0..255, silence at 128), the other
//     depths signed: the offset is removed here.
//  3. It counts the RIFF pad byte after an odd-sized data chunk as audio
//     (an extra sample in 8-bit mono, a garbage one in 24-bit), and decodes
//     a trailing partial frame: only the whole frames that the data chunk
//     declares are kept.
//
// The header is checked by scanRIFF first, and the library is handed a
// minimal RIFF file (fmt and data chunks, nothing else): its metadata
// parsers allocate whatever sizes a corrupt LIST chunk declares, and its
// chunk reader ignores a short size field. Its chunked reader (PCMBuffer)
// is not used, since a short read splits a sample between two calls: each
// chunk of frames is a minimal RIFF file of its own.
func decodeWAV(ri riffInfo, first int, dst []float64) ([]float64, error) {
	dec := wav.NewDecoder(bytes.NewReader(minimalRIFF(ri)))
	buf, err := dec.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("decoding samples: %v", err)
	}
	if buf == nil {
		return nil, errors.New("decoding samples: no PCM data found")
	}
	// Defect 3: keep the declared whole frames only.
	n := len(ri.data) / ri.blockAlign * ri.channels
	if len(buf.Data) < n {
		return nil, fmt.Errorf("decoding samples: got %d samples, the data chunk holds %d", len(buf.Data), n)
	}
	for i, v := range buf.Data[:n] {
		var x float64
		switch {
		case ri.format == formatFloat:
			// Defect 1: raw IEEE bits.
			x = float64(math.Float32frombits(uint32(v)))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("sample %d of channel %d is %v", first+i/ri.channels, i%ri.channels, x)
			}
			x = max(-1, min(1, x))
		case ri.bits == 8:
			// Defect 2: unsigned 8-bit.
			x = float64(v-128) / 128
		default:
			x = float64(v) / float64(int64(1)<<(ri.bits-1))
		}
		dst = append(dst, x)
	}
	return dst, nil
}

// minimalRIFF rebuilds a WAV file from the fmt and data chunks alone. The
// data chunk keeps its declared (possibly odd) size and its pad byte, as a
// well-formed file has them.
func minimalRIFF(ri riffInfo) []byte {
	pad := len(ri.data) & 1
	n := 4 + 8 + len(ri.fmtBody) + len(ri.fmtBody)&1 + 8 + len(ri.data) + pad
	b := make([]byte, 0, 8+n)
	le := binary.LittleEndian
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, uint32(n))
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	b = le.AppendUint32(b, uint32(len(ri.fmtBody)))
	b = append(b, ri.fmtBody...)
	if len(ri.fmtBody)&1 == 1 {
		b = append(b, 0)
	}
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(ri.data)))
	b = append(b, ri.data...)
	if pad == 1 {
		b = append(b, 0)
	}
	return b
}

// encodeWAV16 writes mono samples in [-1, 1] as a 16-bit PCM WAV file
// (canonical 44-byte header).
func encodeWAV16(samples []float64, rate int) []byte {
	le := binary.LittleEndian
	data := 2 * len(samples)
	b := make([]byte, 0, 44+data)
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, uint32(36+data))
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, formatPCM)
	b = le.AppendUint16(b, 1) // channels
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(2*rate)) // bytes per second
	b = le.AppendUint16(b, 2)              // block align
	b = le.AppendUint16(b, 16)             // bits per sample
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(data))
	for _, v := range samples {
		b = le.AppendUint16(b, uint16(toInt16(v)))
	}
	return b
}

// toInt16 rounds a sample in [-1, 1] to 16-bit PCM, clipping.
func toInt16(v float64) int16 {
	return int16(max(-32768, min(32767, math.Round(v*32768))))
}
