package backbone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
)

// Config is a Mamba model's configuration, with the field names of Hugging
// Face's MambaConfig so that config.json reads and writes as it is.
type Config struct {
	VocabSize              int      `json:"vocab_size"`        // V
	HiddenSize             int      `json:"hidden_size"`       // D, d_model
	StateSize              int      `json:"state_size"`        // N, d_state
	NumHiddenLayers        int      `json:"num_hidden_layers"` // number of blocks
	LayerNormEpsilon       Float    `json:"layer_norm_epsilon"`
	PadTokenID             int      `json:"pad_token_id"`
	BOSTokenID             int      `json:"bos_token_id"`
	EOSTokenID             int      `json:"eos_token_id"`
	Expand                 int      `json:"expand"`            // E
	ConvKernel             int      `json:"conv_kernel"`       // K, d_conv
	UseBias                bool     `json:"use_bias"`          // in_proj/out_proj biases (unsupported)
	UseConvBias            bool     `json:"use_conv_bias"`     // conv1d bias
	HiddenAct              string   `json:"hidden_act"`        // "silu"
	InitializerRange       Float    `json:"initializer_range"` // std of the embedding init
	ResidualInFP32         bool     `json:"residual_in_fp32"`
	TimeStepRank           Rank     `json:"time_step_rank"` // R, dt_rank
	TimeStepScale          Float    `json:"time_step_scale"`
	TimeStepMin            Float    `json:"time_step_min"`
	TimeStepMax            Float    `json:"time_step_max"`
	TimeStepInitScheme     string   `json:"time_step_init_scheme"`
	TimeStepFloor          Float    `json:"time_step_floor"`
	RescalePrenormResidual bool     `json:"rescale_prenorm_residual"`
	UseCache               bool     `json:"use_cache"`
	IntermediateSize       int      `json:"intermediate_size"` // Dinner = E·D
	TieWordEmbeddings      bool     `json:"tie_word_embeddings"`
	ModelType              string   `json:"model_type"`
	Architectures          []string `json:"architectures,omitempty"`
	DType                  string   `json:"dtype,omitempty"`

	// NonSelective lists the SSM parameters that do not depend on the
	// input (the paper's ablation of selection, Table 7): "delta" (Δ is a
	// learned per-channel value, softplus(dt_proj.bias)), "B" and "C"
	// (learned per channel and state, mixer.B and mixer.C of shape
	// (Din, N), as in S4D). Empty: Mamba (S6). It is absent from the
	// config.json of standard models, which therefore load anywhere.
	NonSelective []string `json:"mambakit_nonselective,omitempty"`
	// ComplexA makes A, B, C and the state complex (S4D-Lin: A initialized
	// to −½ + iπn), as the paper's complex variant: mixer.A_imag (Din, N)
	// holds A's imaginary part, and B and C take N more rows of x_proj for
	// their imaginary parts (or, non-selective, mixer.B_imag, mixer.C_imag).
	ComplexA bool `json:"mambakit_complex,omitempty"`
	// AInit chooses A's initialization: "" (S4D-Real −(n+1), or S4D-Lin
	// −½ + iπn when complex) or "random": −exp of a log-uniform draw in
	// [½, N+1] per (channel, state), and for a complex A an imaginary part
	// uniform in [0, πN).
	AInit string `json:"mambakit_a_init,omitempty"`
}

// cf is 2 for a complex model (real and imaginary parts), else 1.
func (c *Config) cf() int {
	if c.ComplexA {
		return 2
	}
	return 1
}

// selective reports whether the SSM parameter p ("delta", "B" or "C")
// depends on the input.
func (c *Config) selective(p string) bool { return !slices.Contains(c.NonSelective, p) }

// xProjRows returns the rows of x_proj for Δ (rank), B and C: zero for a
// non-selective parameter; B and C take 2N rows (real, then imaginary
// parts) in a complex model.
func (c *Config) xProjRows() (r, nb, nc int) {
	if c.selective("delta") {
		r = int(c.TimeStepRank)
	}
	if c.selective("B") {
		nb = c.cf() * c.StateSize
	}
	if c.selective("C") {
		nc = c.cf() * c.StateSize
	}
	return r, nb, nc
}

// Float is a float64 that JSON-encodes with a decimal point (1.0, not 1):
// transformers validates the float fields of MambaConfig strictly and
// refuses an integer there.
type Float float64

func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("config value %v is not a JSON number", v)
	}
	b := strconv.AppendFloat(nil, v, 'g', -1, 64)
	if !bytes.ContainsAny(b, ".eE") {
		b = append(b, '.', '0')
	}
	return b, nil
}

// Rank is time_step_rank: a number, or "auto" in config.json, which means
// ⌈hidden_size/16⌉. Zero stands for "auto".
type Rank int

func (r *Rank) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "auto" {
			return fmt.Errorf("time_step_rank %q: want a number or \"auto\"", s)
		}
		*r = 0
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("time_step_rank: %w", err)
	}
	*r = Rank(n)
	return nil
}

// NewConfig returns the configuration of state-spaces/mamba for a model of
// the given vocabulary, width and depth: d_state 16, expand 2, d_conv 4,
// dt_rank ⌈D/16⌉, dt in [0.001, 0.1] with floor 1e-4, conv bias on, linear
// biases off, RMSNorm eps 1e-5, tied embeddings, and the vocabulary padded
// to a multiple of 8.
func NewConfig(vocab, dModel, layers int) Config {
	c := Config{
		VocabSize:              (vocab + 7) / 8 * 8,
		HiddenSize:             dModel,
		StateSize:              16,
		NumHiddenLayers:        layers,
		LayerNormEpsilon:       1e-5,
		Expand:                 2,
		ConvKernel:             4,
		UseConvBias:            true,
		HiddenAct:              "silu",
		InitializerRange:       0.02,
		ResidualInFP32:         true,
		TimeStepScale:          1,
		TimeStepMin:            0.001,
		TimeStepMax:            0.1,
		TimeStepInitScheme:     "random",
		TimeStepFloor:          1e-4,
		RescalePrenormResidual: true,
		TieWordEmbeddings:      true,
		ModelType:              "mamba",
		Architectures:          []string{"MambaForCausalLM"},
		DType:                  "float32",
	}
	c.TimeStepRank = Rank((dModel + 15) / 16)
	c.IntermediateSize = c.Expand * dModel
	return c
}

// Limits on sizes read from an outside config.json, so a hostile file gets
// an error instead of a huge allocation.
const (
	maxVocab  = 1 << 22
	maxWidth  = 1 << 16
	maxState  = 1 << 12
	maxLayers = 1 << 10
	maxConv   = 1 << 8
	maxParams = 1 << 33 // 32 GiB of float32
)

// normalize fills derived fields (dt_rank "auto", intermediate_size) and
// checks that every size is supported and sane.
func (c *Config) normalize() error {
	if c.TimeStepRank == 0 && c.HiddenSize > 0 {
		c.TimeStepRank = Rank((c.HiddenSize + 15) / 16)
	}
	if c.IntermediateSize == 0 {
		c.IntermediateSize = c.Expand * c.HiddenSize
	}
	if c.Expand == 0 && c.HiddenSize > 0 {
		c.Expand = c.IntermediateSize / c.HiddenSize
	}
	check := func(name string, v, hi int) error {
		if v < 1 || v > hi {
			return fmt.Errorf("%s = %d: want 1..%d", name, v, hi)
		}
		return nil
	}
	for _, e := range []error{
		check("vocab_size", c.VocabSize, maxVocab),
		check("hidden_size", c.HiddenSize, maxWidth),
		check("state_size", c.StateSize, maxState),
		check("num_hidden_layers", c.NumHiddenLayers, maxLayers),
		check("conv_kernel", c.ConvKernel, maxConv),
		check("intermediate_size", c.IntermediateSize, 64*maxWidth),
		check("time_step_rank", int(c.TimeStepRank), maxWidth),
	} {
		if e != nil {
			return e
		}
	}
	if c.AInit != "" && c.AInit != "random" {
		return fmt.Errorf("mambakit_a_init = %q: want \"random\" or nothing", c.AInit)
	}
	for _, p := range c.NonSelective {
		if p != "delta" && p != "B" && p != "C" {
			return fmt.Errorf("mambakit_nonselective: %q is not delta, B or C", p)
		}
	}
	if c.UseBias {
		return fmt.Errorf("use_bias = true (biases on in_proj/out_proj) is not supported")
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return fmt.Errorf("hidden_act = %q: only \"silu\" is supported", c.HiddenAct)
	}
	if !(c.LayerNormEpsilon > 0 && c.LayerNormEpsilon < 1) {
		return fmt.Errorf("layer_norm_epsilon = %v: want 0 < eps < 1", c.LayerNormEpsilon)
	}
	if n := c.paramCount(); n > maxParams {
		return fmt.Errorf("the model would have %.3g parameters, more than the %d supported", n, int64(maxParams))
	}
	return nil
}

// paramCount is the number of parameters, in float64 so that absurd sizes
// cannot overflow.
func (c *Config) paramCount() float64 {
	var n float64
	for _, f := range fields {
		sz := 1.0
		for _, d := range f.shape(c) {
			sz *= float64(d)
		}
		if f.perLayer {
			sz *= float64(c.NumHiddenLayers)
		}
		n += sz
	}
	return n
}

// Validate reports whether the configuration describes a model this package
// can build.
func (c Config) Validate() error { return c.normalize() }

// ReadConfig reads and validates a Hugging Face config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("backbone: read config: %w", err)
	}
	return parseConfig(path, b)
}

func parseConfig(path string, b []byte) (Config, error) {
	// Start from zero values: a file that omits a size is an error, not a
	// silent default.
	var c Config
	c.TieWordEmbeddings = true
	c.UseConvBias = true
	c.LayerNormEpsilon = 1e-5
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("backbone: %s: %w", path, err)
	}
	if c.ModelType != "" && c.ModelType != "mamba" {
		return Config{}, fmt.Errorf("backbone: %s: model_type %q is not \"mamba\"", path, c.ModelType)
	}
	if err := c.normalize(); err != nil {
		return Config{}, fmt.Errorf("backbone: %s: %w", path, err)
	}
	return c, nil
}

// sizes used everywhere, named as in the glossary (doc.go).
func (c *Config) dims() (V, D, Din, N, R, K, nL int) {
	return c.VocabSize, c.HiddenSize, c.IntermediateSize, c.StateSize, int(c.TimeStepRank), c.ConvKernel, c.NumHiddenLayers
}

// RowStateFloats is the size of one row's recurrent state (State: the
// conv and SSM states of every layer) in floats.
func (c *Config) RowStateFloats() int {
	_, _, Din, N, _, K, nL := c.dims()
	return nL*Din*(K-1) + nL*Din*N*c.cf()
}
