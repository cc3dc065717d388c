package audio

import (
	"bytes"
	"errors"
	"fmt"
)

// pcm is an opened audio file: its header, and a reader that decodes it a
// few thousand frames at a time, so that a long file is never held whole
// as samples (the pipeline in tokenize consumes each chunk before asking
// for the next).
type pcm struct {
	rate     int
	channels int
	frames   int64 // sample frames the header declares; -1 when it does not say
	// next returns the next samples in [-1, 1], interleaved by channel, a
	// whole number of frames; io.EOF after the last. The slice is only
	// valid until the following call.
	next func() ([]float64, error)
}

// maxChunkFrames is how many frames a decoder hands on at once where it
// chooses (WAV, MP3); a FLAC frame holds at most 65535.
const maxChunkFrames = 1 << 14

// openAudio opens a WAV, FLAC or MP3 file, recognised by its content, not
// its name.
func openAudio(b []byte) (pcm, error) {
	switch {
	case len(b) == 0:
		return pcm{}, errors.New("empty file")
	case bytes.HasPrefix(b, []byte("RIFF")) || bytes.HasPrefix(b, []byte("RIFX")) || bytes.HasPrefix(b, []byte("RF64")):
		return openWAV(b)
	case bytes.HasPrefix(b, []byte("ID3")) && id3Len(b) == 0:
		return pcm{}, fmt.Errorf("truncated or corrupt ID3v2 tag (an MP3 or FLAC file of %d bytes?)", len(b))
	case bytes.HasPrefix(b[id3Len(b):], []byte("fLaC")):
		return openFLAC(b)
	case id3Len(b) > 0 || isMP3Sync(b):
		return openMP3(b)
	case bytes.HasPrefix(b, []byte("OggS")):
		return pcm{}, errors.New("Ogg audio is not supported; convert it to FLAC (sox in.ogg out.flac)")
	case len(b) < 4 && bytes.HasPrefix([]byte("RIFF"), b):
		return pcm{}, fmt.Errorf("truncated: %d bytes, shorter than a WAV header", len(b))
	}
	return pcm{}, fmt.Errorf("not a WAV, FLAC or MP3 file: it starts with %q", printable(string(b[:min(len(b), 8)])))
}

// id3Len is the size of the ID3v2 tag at the start of b (header, body and
// footer), or 0 when there is none or it does not fit in b.
func id3Len(b []byte) int {
	if len(b) < 10 || string(b[:3]) != "ID3" || b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0
	}
	n := 10 + (int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9]))
	if b[5]&0x10 != 0 { // footer present
		n += 10
	}
	if n > len(b) {
		return 0
	}
	return n
}

// isMP3Sync reports whether b starts with an MPEG audio frame sync.
func isMP3Sync(b []byte) bool { return len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0 }

// mixdown writes the mono mix of interleaved samples (the mean of the
// channels) into dst[:0] and returns it.
func mixdown(dst, x []float64, channels int) []float64 {
	if channels == 1 {
		return append(dst[:0], x...)
	}
	dst = dst[:0]
	for i := 0; i+channels <= len(x); i += channels {
		var s float64
		for _, v := range x[i : i+channels] {
			s += v
		}
		dst = append(dst, s/float64(channels))
	}
	return dst
}
