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
//  3. It decodes some MPEG-2 and 2.5 streams (sample rates below 32 kHz)
//     to noise without an error (go-mp3 issue 39; a 22.05 kHz 32 kbps mono
//     file from LAME is one): since that cannot be told from good output,
//     such files are refused, with a conversion hint.
//  4. Given a seekable reader, it scans the whole file once more before
//     decoding, to learn a length nothing here needs: it is given a plain
//     reader.
//  5. It panics on some malformed frames (an index out of range reading
//     an MPEG-2 frame's scale factors, found by FuzzMP3): every call into
//     it is made through mp3Call, which turns a panic into an error.
func openMP3(b []byte) (pcm, error) {
	b = b[id3Len(b):] // defect 2
	var d *mp3.Decoder
	err := mp3Call(func() (err error) {
		d, err = mp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(b)}) // defect 4
		return err
	})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return pcm{}, errors.New("MP3: no complete frame (truncated, or not MP3 data?)")
		}
		return pcm{}, fmt.Errorf("MP3: %v", err)
	}
	if d.SampleRate() < 32000 { // defect 3
		return pcm{}, fmt.Errorf("MPEG-2/2.5 MP3 (%d Hz) is not decoded: the decoder garbles some such streams without an error; convert the file first (sox in.mp3 out.flac)", d.SampleRate())
	}
	raw := make([]byte, 4*maxChunkFrames) // defect 1: 16-bit stereo, 4 bytes a frame
	var buf []float64
	next := func() ([]float64, error) {
		var n int
		err := mp3Call(func() (err error) {
			n, err = io.ReadFull(d, raw)
			return err
		})
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

// mp3Call runs f, a call into go-mp3, and returns its error, or an error
// saying the data is malformed when f panics (defect 5): a file must not
// crash the plugin.
func mp3Call(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed frame (the decoder failed: %v)", r)
		}
	}()
	return f()
}
