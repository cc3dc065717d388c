package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	mp3 "github.com/hajimehoshi/go-mp3"
)

// openMP3 opens an MPEG-1/2 Layer III stream. It is decoded
// maxChunkFrames frames at a time.
//
// The frames are decoded by github.com/hajimehoshi/go-mp3. This function is
// the one place that works around its defects (each has a test in
// mp3_test.go):
//
//  1. It always returns 16-bit stereo, a mono file's channel copied to
//     both: the output is read as two channels, whose mean is the mono
//     signal again.
//  2. It reads an ID3v2 tag by allocating the size the tag declares (up
//     to 256 MB for a 10-byte header): the tag is skipped here, and the
//     library sees the stream from the first frame on.
//  3. Given a seekable reader, it scans the whole file once more before
//     decoding, to learn a length nothing here needs: it is given a plain
//     reader.
func openMP3(b []byte) (pcm, error) {
	b = b[id3Len(b):]                                                 // defect 2
	d, err := mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(b)}) // defect 3
	if err != nil {
		return pcm{}, fmt.Errorf("MP3: %v", unexpectedEOF(err))
	}
	if d.SampleRate() < 1 || d.SampleRate() > maxRate {
		return pcm{}, fmt.Errorf("MP3: sample rate %d", d.SampleRate())
	}
	raw := make([]byte, 4*maxChunkFrames) // defect 1: 16-bit stereo, 4 bytes a frame
	var buf []float64
	next := func() ([]float64, error) {
		n, err := io.ReadFull(d, raw)
		switch {
		case err == io.EOF:
			return nil, io.EOF
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("MP3: %v", err)
		}
		buf = buf[:0]
		for i := 0; i < n/4*4; i += 2 {
			buf = append(buf, float64(int16(binary.LittleEndian.Uint16(raw[i:])))/32768)
		}
		return buf, nil
	}
	return pcm{rate: d.SampleRate(), channels: 2, frames: -1, next: next}, nil
}
