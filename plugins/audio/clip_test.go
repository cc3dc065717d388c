package audio

import (
	"errors"
	"io"
)

// clip is a whole decoded file: samples in [-1, 1], interleaved by channel.
type clip struct {
	rate     int
	channels int
	samples  []float64 // frames × channels
}

// frames returns the number of sample frames.
func (c clip) frames() int { return len(c.samples) / c.channels }

// mono mixes the channels down to one, as tokenize does.
func (c clip) mono() []float64 { return mixdown(nil, c.samples, c.channels) }

// readAudio decodes a whole WAV, FLAC or MP3 file by reading every chunk.
func readAudio(b []byte) (clip, error) {
	p, err := openAudio(b)
	if err != nil {
		return clip{}, err
	}
	c := clip{rate: p.rate, channels: p.channels}
	for {
		x, err := p.next()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return clip{}, err
		}
		c.samples = append(c.samples, x...)
	}
}

// readWAV is readAudio for a file that must be a WAV.
func readWAV(b []byte) (clip, error) {
	if _, err := openWAV(b); err != nil {
		return clip{}, err
	}
	return readAudio(b)
}
