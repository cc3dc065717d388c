package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/sdk"
)

// Version is the plugin's own version, reported by Describe.
const Version = "0.1.0"

const (
	// tokSEP ends every clip: the 256 amplitude classes are ids 0..255.
	tokSEP    int32 = levels
	vocabSize       = levels + 1

	defaultRate = 16000 // samples per second after resampling
)

var fileTypes = []string{".wav", ".flac", ".mp3"}

// Audio is the raw-audio modality. The zero value is ready to use and safe
// for concurrent use: it holds no state.
type Audio struct{}

// New returns the audio modality.
func New() sdk.Modality { return Audio{} }

// Describe reports 256 amplitude classes plus [SEP], one token per sample.
func (Audio) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:          "audio",
		Version:       Version,
		Kind:          sdk.KindContinuous,
		VocabSize:     vocabSize,
		Special:       map[string]int32{"sep": tokSEP, "eos": tokSEP},
		Unit:          "sample",
		UnitsPerToken: 1,
		FileTypes:     slices.Clone(fileTypes),
	}, nil
}

// options are the parsed request options.
type options struct {
	rate   int
	linear bool // linear 8-bit instead of µ-law
}

// knownOptions are every option the plugin reads; each call accepts all of
// them (the host passes one option set to Prepare, Encode and Decode).
var knownOptions = []string{"quantization", "sample_rate"}

func parseOptions(m map[string]string) (options, error) {
	o := options{rate: defaultRate}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the first bad option deterministically
	for _, k := range keys {
		v := m[k]
		switch k {
		case "sample_rate":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1000 || n > maxRate {
				return o, fmt.Errorf("audio: option sample_rate=%q: want an integer from 1000 to %d", v, maxRate)
			}
			o.rate = n
		case "quantization":
			switch v {
			case "mulaw":
			case "linear":
				o.linear = true
			default:
				return o, fmt.Errorf("audio: option quantization=%q: want mulaw or linear", v)
			}
		default:
			return o, fmt.Errorf("audio: unknown option %q (known: %s)", k, strings.Join(knownOptions, ", "))
		}
	}
	return o, nil
}

// tokenize decodes an audio file and turns it into one document: the mono
// mixdown, resampled to o.rate, quantized to 256 classes, then [SEP]. It
// returns the tokens and the number of samples they stand for, at most
// limit. The file is decoded a chunk at a time straight into the resampler
// and the quantizer, so only the tokens grow with its length. A clip whose
// header says it will be longer than limit once resampled is refused
// before any decoding (a 10 KB file at 1 Hz would be 160 M samples at
// 16 kHz); one whose header does not say (MP3) or lies is stopped as soon
// as it passes the limit.
func tokenize(data []byte, o options, limit int) (sdk.Tokens, int64, error) {
	p, err := openAudio(data)
	if err != nil {
		return nil, 0, err
	}
	var rs *resampler
	if p.rate != o.rate {
		rs = resamplerFor(p.rate, o.rate)
	}
	want := p.frames // output samples, or -1 when unknown
	if rs != nil && want >= 0 {
		want = rs.outLen64(want)
	}
	if want > int64(limit) {
		return nil, 0, fmt.Errorf("too long: %d samples at %d Hz are %d at %d Hz, more than the %d tokenized at once; split the file into shorter clips", p.frames, p.rate, want, o.rate, limit)
	}
	enc := muLawEncode
	if o.linear {
		enc = linearEncode
	}
	// The header's length sizes the tokens exactly where it can be trusted
	// (a WAV's data chunk is all there); a FLAC's is only a claim, so it
	// reserves no more than the file could plausibly hold.
	size := int64(maxChunkFrames)
	if want >= 0 {
		size = min(want, max(size, 64*int64(len(data))))
	}
	toks := make(sdk.Tokens, 0, size+1)
	sink := func(v float64) error {
		if len(toks) == limit {
			return fmt.Errorf("too long: more than %d samples at %d Hz, the most tokenized at once; split the file into shorter clips", limit, o.rate)
		}
		toks = append(toks, enc(v))
		return nil
	}
	var st *resampleStream
	if rs != nil {
		st = rs.stream(sink)
	}
	var mono []float64
	var decoded int64 // samples, all channels
	for {
		x, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if decoded += int64(len(x)); decoded > maxSamples {
			return nil, 0, fmt.Errorf("too long: more than %d samples decoded; split the file into shorter clips", maxSamples)
		}
		mono = mixdown(mono, x, p.channels)
		if st != nil {
			err = st.write(mono)
		} else {
			for _, v := range mono {
				if err = sink(v); err != nil {
					break
				}
			}
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if st != nil {
		if err := st.close(); err != nil {
			return nil, 0, err
		}
	}
	if len(toks) == 0 {
		return nil, 0, errors.New("no audio: the file holds no complete sample frame")
	}
	return append(toks, tokSEP), int64(len(toks)), nil
}

// Encode turns one audio file (WAV, FLAC or MP3) into tokens: one amplitude class per sample at
// the target rate, then [SEP] (none with req.Open: a prompt, which
// generation continues).
func (Audio) Encode(ctx context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = "<input>"
	}
	toks, _, err := tokenize(req.Data, o, sdk.MaxEncodeTokens-1) // the samples and [SEP] fit one reply
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", name, err)
	}
	if req.Open {
		toks = toks[:len(toks)-1]
	}
	return toks, nil
}

// Decode writes tokens as a mono 16-bit PCM WAV file at the target rate.
// [SEP] tokens are dropped, so several clips play back to back.
func (Audio) Decode(ctx context.Context, req sdk.DecodeRequest) ([]byte, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dec := muLawDecode
	if o.linear {
		dec = linearDecode
	}
	x := make([]float64, 0, len(req.Tokens))
	for i, id := range req.Tokens {
		switch {
		case id >= 0 && id < levels:
			x = append(x, dec(id))
		case id == tokSEP:
		default:
			return nil, fmt.Errorf("audio: decode: token %d at position %d is outside the vocabulary [0, %d)", id, i, vocabSize)
		}
	}
	return encodeWAV16(x, o.rate), nil
}

// Prepare tokenizes every audio file of the inputs (directories are
// searched for *.wav, *.flac and *.mp3); each clip is one document.
func (Audio) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return sdk.Dataset{}, err
	}
	ds, err := sdk.PrepareFiles(ctx, req, fileTypes, func(_ string, data []byte) ([]sdk.Doc, error) {
		toks, units, err := tokenize(data, o, maxSamples)
		if err != nil {
			return nil, err
		}
		return []sdk.Doc{{Tokens: toks, Units: units}}, nil
	})
	if err != nil {
		return sdk.Dataset{}, fmt.Errorf("audio: %w", err)
	}
	return ds, nil
}
