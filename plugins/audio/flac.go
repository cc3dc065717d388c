package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
)

// openFLAC opens a FLAC stream (after an optional ID3v2 tag): any sample
// rate up to maxRate, 1 to 8 channels, 4 to 32 bits per sample. It is
// decoded one FLAC frame (at most 65535 sample frames) at a time.
//
// The frames are decoded by github.com/mewkiz/flac. This function, with
// flacFrame, is the one place that works around its defects (each has a
// test in flac_test.go):
//
//  1. A frame header may leave the sample size or rate to STREAMINFO (bit
//     patterns 000 and 0000, which libFLAC writes for depths other than 8,
//     12, 16, 20 and 24 bits); the library then decodes the frame as 0-bit
//     samples, all silence. The header is filled in from STREAMINFO before
//     the frame's samples are parsed.
//  2. Nothing checks that a frame agrees with STREAMINFO (or with the
//     previous frame) on channels, rate and depth: a frame that does not is
//     an error here, since the stream would change meaning midway.
//  3. A block size of 65536 (16-bit field 0xffff) wraps to 0, and a
//     corrupt frame decodes to samples outside its declared depth: the
//     first is an error, the second is clipped to [-1, 1].
//  4. It skips an ID3v2 tag in front of the stream with a short read (the
//     tag's size may come back wrong): the tag is skipped here, and the
//     library sees the stream from "fLaC" on, with its STREAMINFO header
//     checked first (its type and length).
func openFLAC(b []byte) (pcm, error) {
	b = b[id3Len(b):] // defect 4
	if len(b) < 8 || b[4]&0x7f != 0 || binary.BigEndian.Uint32(b[4:8])&0xffffff != 34 {
		return pcm{}, errors.New("FLAC: the first metadata block is not a 34-byte STREAMINFO (truncated or corrupt file?)")
	}
	s, err := flac.New(bytes.NewReader(b))
	if err != nil {
		return pcm{}, fmt.Errorf("FLAC header: %v", unexpectedEOF(err))
	}
	si := s.Info
	switch {
	case si.SampleRate > maxRate:
		return pcm{}, fmt.Errorf("FLAC: the header says %d samples per second; want 1 to %d", si.SampleRate, maxRate)
	case si.BitsPerSample < 4:
		return pcm{}, fmt.Errorf("FLAC: the header says %d bits per sample; want 4 to 32", si.BitsPerSample)
	}
	frames := int64(-1) // NSamples 0 means unknown
	if si.NSamples > 0 {
		frames = int64(min(si.NSamples, 1<<40))
	}
	ch := int(si.NChannels)
	scale := 1 / float64(int64(1)<<(si.BitsPerSample-1))
	var buf []float64
	nframe := 0
	next := func() ([]float64, error) {
		f, err := s.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		nframe++
		if err != nil {
			return nil, fmt.Errorf("FLAC frame %d: %v", nframe, unexpectedEOF(err))
		}
		if err := flacFrame(f, si.SampleRate, ch, si.BitsPerSample); err != nil {
			return nil, fmt.Errorf("FLAC frame %d: %v", nframe, err)
		}
		n := int(f.BlockSize)
		buf = buf[:0]
		for i := range n {
			for c := range ch {
				buf = append(buf, max(-1, min(1, float64(f.Subframes[c].Samples[i])*scale)))
			}
		}
		return buf, nil
	}
	return pcm{rate: int(si.SampleRate), channels: ch, frames: frames, next: next}, nil
}

// flacFrame fills in and checks a frame header against STREAMINFO
// (defects 1 to 3 of openFLAC), then parses the frame's samples.
func flacFrame(f *frame.Frame, rate uint32, channels int, bits uint8) error {
	if f.BitsPerSample == 0 {
		f.BitsPerSample = bits
	}
	if f.SampleRate == 0 {
		f.SampleRate = rate
	}
	switch {
	case f.BlockSize == 0:
		return errors.New("block size 65536 (the most is 65535)")
	case f.Channels.Count() != channels:
		return fmt.Errorf("%d channels, the stream has %d", f.Channels.Count(), channels)
	case f.SampleRate != rate:
		return fmt.Errorf("%d Hz, the stream has %d Hz", f.SampleRate, rate)
	case f.BitsPerSample != bits:
		return fmt.Errorf("%d bits per sample, the stream has %d", f.BitsPerSample, bits)
	}
	if err := f.Parse(); err != nil {
		return unexpectedEOF(err)
	}
	for c, sf := range f.Subframes {
		if len(sf.Samples) != int(f.BlockSize) {
			return fmt.Errorf("channel %d has %d samples, the block %d", c, len(sf.Samples), f.BlockSize)
		}
	}
	return nil
}

// unexpectedEOF says in words that a file ended early.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the file ends inside it (truncated?)")
	}
	return err
}
