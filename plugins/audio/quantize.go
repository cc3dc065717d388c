package audio

import "math"

// levels is the number of amplitude classes: 8-bit quantization.
const levels = 256

// The quantizers follow SaShiMi (state-spaces/s4, src/dataloaders/audio.py:
// mu_law_encode, linear_encode), which Mamba's audio experiments reuse. For
// a sample x in [-1, 1] and q = 256 classes:
//
//	µ-law:  y = sign(x)·ln(1 + µ|x|)/ln(1 + µ), µ = q − 1 = 255
//	        class = floor((y + 1)/2·µ + 0.5)
//	linear: class = floor((x + 1)/2·(q − 1) + 0.5)
//
// Decoding maps a class back to the centre of its bin: y = class/µ·2 − 1,
// then x = sign(y)·((1 + µ)^|y| − 1)/µ for µ-law.

const mu = levels - 1

var lnOnePlusMu = math.Log1p(mu)

// muLawEncode maps x in [-1, 1] to a µ-law class in [0, 256).
func muLawEncode(x float64) int32 {
	x = max(-1, min(1, x))
	y := math.Copysign(math.Log1p(mu*math.Abs(x))/lnOnePlusMu, x)
	return int32(math.Floor((y+1)/2*mu + 0.5))
}

// muLawDecode maps a µ-law class back to a sample in [-1, 1].
func muLawDecode(c int32) float64 {
	y := float64(c)/mu*2 - 1
	return math.Copysign(math.Expm1(math.Abs(y)*lnOnePlusMu)/mu, y)
}

// linearEncode maps x in [-1, 1] to one of 256 evenly spaced classes.
func linearEncode(x float64) int32 {
	x = max(-1, min(1, x))
	return int32(math.Floor((x+1)/2*(levels-1) + 0.5))
}

// linearDecode maps a linear class back to a sample in [-1, 1].
func linearDecode(c int32) float64 {
	return float64(c)/(levels-1)*2 - 1
}
