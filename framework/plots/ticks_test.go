package plots

import (
	"math"
	"strconv"
	"testing"

	"gonum.org/v1/plot"
)

// checkTicks fails unless the labelled ticks of [min, max] lie in the
// range, number at least two, have distinct labels and each label reads
// back within a millionth of the spacing of its value.
func checkTicks(t *testing.T, min, max float64) []plot.Tick {
	t.Helper()
	ticks := Ticks{}.Ticks(min, max)
	seen := map[string]float64{}
	var major []float64
	for _, tk := range ticks {
		if tk.Value < min || tk.Value > max {
			t.Errorf("[%v, %v]: tick %v (%q) outside the range", min, max, tk.Value, tk.Label)
		}
		if tk.IsMinor() {
			continue
		}
		if v, ok := seen[tk.Label]; ok {
			t.Errorf("[%v, %v]: ticks %v and %v both labelled %q", min, max, v, tk.Value, tk.Label)
		}
		seen[tk.Label] = tk.Value
		major = append(major, tk.Value)
	}
	if len(major) < 2 {
		t.Fatalf("[%v, %v]: %d labelled ticks, want at least 2: %v", min, max, len(major), ticks)
	}
	step := math.Abs(major[1] - major[0])
	for _, tk := range ticks {
		if tk.IsMinor() {
			continue
		}
		r, err := strconv.ParseFloat(tk.Label, 64)
		if err != nil {
			t.Errorf("[%v, %v]: label %q: %v", min, max, tk.Label, err)
			continue
		}
		if math.Abs(r-tk.Value) > step*1e-6 {
			t.Errorf("[%v, %v]: label %q reads back as %v, tick is at %v", min, max, tk.Label, r, tk.Value)
		}
	}
	return ticks
}

func TestTicksDistinctAndExact(t *testing.T) {
	ranges := map[string][2]float64{
		"compare curve 4.05..4.35":          {4.05, 4.35},
		"around 1.97, 3rd digit":            {1.965, 1.978},
		"around 1.97, 4th digit":            {1.9691, 1.9712},
		"bits per base 1.86..2.0":           {1.86, 2.003},
		"1.97001..1.97002":                  {1.97001, 1.97002},
		"bars from zero":                    {0, 2.6},
		"gain in percent, both signs":       {-2.3, 0.5},
		"steps":                             {1, 40},
		"steps 100..500":                    {100, 500},
		"tiny":                              {1.2e-7, 3.4e-7},
		"tiny across zero":                  {-3e-9, 5e-9},
		"large":                             {0, 1.3e9},
		"large, narrow":                     {1_000_000_000, 1_000_000_300},
		"negative":                          {-4.35, -4.05},
		"millions of tokens":                {2e5, 4.1e6},
		"a thousandth, where formats meet":  {0.0009, 0.0013},
		"a million, where formats meet":     {999_000, 1_001_000},
		"loss with a high start 1.9..3.65":  {1.9, 3.65},
		"two values 0.4% apart":             {2.1962, 2.2038},
		"a span below float64's resolution": {1, math.Nextafter(math.Nextafter(1, 2), 2)},
	}
	for name, r := range ranges {
		t.Run(name, func(t *testing.T) {
			ticks := checkTicks(t, r[0], r[1])
			var ls []string
			for _, tk := range ticks {
				if !tk.IsMinor() {
					ls = append(ls, tk.Label)
				}
			}
			t.Logf("%v", ls)
		})
	}
}

// TestLabels formats given tick values: the ticks of the issue (4.05,
// 4.20, 4.35; gonum labelled them 4, 4.2, 4.3) and values near 1.97 that
// differ in the 3rd and 4th digit (gonum labelled two of them 1.97).
func TestLabels(t *testing.T) {
	tests := map[string]struct {
		vs   []float64
		step float64
		want []string
	}{
		"issue 4.05..4.35":  {[]float64{4.05, 4.20, 4.35}, 0.15, []string{"4.05", "4.20", "4.35"}},
		"near 1.97":         {[]float64{1.965, 1.970, 1.975}, 0.005, []string{"1.965", "1.970", "1.975"}},
		"4th digit":         {[]float64{1.9695, 1.9700, 1.9705}, 0.0005, []string{"1.9695", "1.9700", "1.9705"}},
		"whole":             {[]float64{100, 200, 300}, 100, []string{"100", "200", "300"}},
		"steps":             {[]float64{1000, 2000, 3000}, 1000, []string{"1000", "2000", "3000"}},
		"past five digits":  {[]float64{0, 500000, 1000000}, 500000, []string{"0", "5e5", "1e6"}},
		"rounding noise":    {[]float64{0.1 * 3, 0.1 * 6}, 0.3, []string{"0.3", "0.6"}},
		"zero among halves": {[]float64{-0.5, 0, 0.5}, 0.5, []string{"-0.5", "0.0", "0.5"}},
		"tiny":              {[]float64{1e-7, 1.5e-7, 2e-7}, 5e-8, []string{"1.0e-7", "1.5e-7", "2.0e-7"}},
		"large":             {[]float64{0, 5e8, 1e9}, 5e8, []string{"0", "5e8", "1e9"}},
		"one value":         {[]float64{1.97}, 0, []string{"1.97"}},
		"nil":               {nil, 1, []string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Labels(tc.vs, tc.step)
			if len(got) != len(tc.want) {
				t.Fatalf("Labels(%v, %v) = %q, want %q", tc.vs, tc.step, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Labels(%v, %v) = %q, want %q", tc.vs, tc.step, got, tc.want)
					break
				}
			}
		})
	}
}

// TestDefaultTicksShareLabels shows the bug Ticks exists for: gonum's
// default ticker gives two ticks of a narrow range one label. If gonum
// fixes it, this test says so and Ticks may be reconsidered.
func TestDefaultTicksShareLabels(t *testing.T) {
	seen := map[string]bool{}
	for _, tk := range (plot.DefaultTicks{}).Ticks(1.8695, 2.003) {
		if tk.IsMinor() {
			continue
		}
		if seen[tk.Label] {
			return
		}
		seen[tk.Label] = true
	}
	t.Skipf("gonum's DefaultTicks no longer repeats a label on [1.8695, 2.003]: %v", seen)
}
