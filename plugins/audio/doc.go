// Package audio is mambakit's built-in raw-audio modality: one token per
// sample, read from WAV (github.com/go-audio/wav), FLAC
// (github.com/mewkiz/flac) and MP3 (github.com/hajimehoshi/go-mp3) files.
//
// # Pipeline
//
// A file, recognised by its content, is decoded a chunk at a time (a FLAC
// frame, 16 K sample frames of WAV or MP3) to samples in [-1, 1] by
// openWAV, openFLAC or openMP3, each the one place that works around its
// library's known defects. Each chunk is mixed down to mono by averaging
// the channels and fed to a streaming resampler to the target rate
// (default 16 kHz), a Kaiser-windowed sinc filter that rejects anything
// that would alias by at least 90 dB by design, whose output is quantized
// at once to 256 classes: 8-bit µ-law (µ = 255) by default, as SaShiMi and
// Mamba's audio experiments do, or linear 8-bit. Only the tokens grow with
// the file's length.
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
