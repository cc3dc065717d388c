// Package audio is mambakit's built-in raw-audio modality: one token per
// sample, read from WAV files with github.com/go-audio/wav.
//
// # Pipeline
//
// A WAV file (PCM 8, 16, 24 or 32-bit, or 32-bit float; any number of
// channels) is decoded to samples in [-1, 1] (readWAV, which also works
// around the decoder's known defects), mixed down to mono by averaging the
// channels, resampled to the target rate (default 16 kHz) with a
// Kaiser-windowed sinc filter that rejects anything that would alias by at
// least 90 dB by design, and quantized to 256 classes: 8-bit µ-law (µ = 255)
// by default, as SaShiMi and Mamba's audio experiments do, or linear 8-bit.
//
// # Vocabulary
//
//	0..255  amplitude classes (µ-law or linear; 127 and 128 straddle zero)
//	256     [SEP], the end of a clip
//
// Each clip is one document and ends with [SEP], so packed training can
// reset the recurrent state between clips. Metrics are per sample.
//
// # Options
//
// "sample_rate" (target rate in Hz, default 16000) and "quantization"
// (mulaw | linear). Decode needs the same options as Encode: it writes a
// mono 16-bit PCM WAV at sample_rate. docs/plugins-audio.md has details and
// measurements.
package audio
