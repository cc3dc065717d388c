package audio

import "math"

// fixtureSignal is the signal in testdata/tone-*.{flac,mp3}: three tones
// per channel (440 Hz, 1000 + 700·c Hz, 3100 Hz), peak 0.7, interleaved.
// testdata/README.md says how the files were made from it.
func fixtureSignal(rate, frames, channels int) []float64 {
	x := make([]float64, 0, frames*channels)
	for i := range frames {
		t := float64(i) / float64(rate)
		for c := range channels {
			x = append(x, 0.4*math.Sin(2*math.Pi*440*t)+
				0.2*math.Sin(2*math.Pi*(1000+700*float64(c))*t)+
				0.1*math.Sin(2*math.Pi*3100*t+float64(c)))
		}
	}
	return x
}
