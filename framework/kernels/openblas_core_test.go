package kernels

import (
	"strings"
	"testing"
)

// TestOpenBLASCoreWarning is the decision of openblasCoreWarning: a warning
// only when OpenBLAS's kernels are narrower than the CPU's, naming the
// inherited OPENBLAS_CORETYPE and the fix when that is the cause.
func TestOpenBLASCoreWarning(t *testing.T) {
	tests := map[string]struct {
		core, env string
		inherited bool
		cpuWidth  int
		cpuCore   string
		want      []string // substrings; nil: no warning
	}{
		"inherited Haswell on AVX-512": {"Haswell", "Haswell", true, coreAVX512, "SkylakeX",
			[]string{"OPENBLAS_CORETYPE=Haswell, inherited", "Haswell (AVX2)", "faster SkylakeX (AVX-512) ones", "unset it", "OPENBLAS_CORETYPE=SkylakeX"}},
		"inherited lower case":        {"Haswell", "haswell", true, coreAVX512, "SkylakeX", []string{"OPENBLAS_CORETYPE=haswell", "unset it"}},
		"inherited Zen on AVX-512":    {"Zen", "Zen", true, coreAVX512, "SkylakeX", []string{"Zen (AVX2)"}},
		"inherited Sandybridge, AVX2": {"Sandybridge", "Sandybridge", true, coreAVX2, "Haswell", []string{"Sandybridge (AVX)", "faster Haswell (AVX2) ones", "OPENBLAS_CORETYPE=Haswell"}},
		"set by mambakit, honoured":   {"SkylakeX", "SkylakeX", false, coreAVX512, "SkylakeX", nil},
		"inherited SkylakeX":          {"SkylakeX", "SkylakeX", true, coreAVX512, "SkylakeX", nil},
		"inherited Cooperlake":        {"Cooperlake", "Cooperlake", true, coreAVX512, "SkylakeX", nil},
		"inherited Haswell on AVX2":   {"Haswell", "Haswell", true, coreAVX2, "Haswell", nil},
		"inherited wider than CPU":    {"SkylakeX", "SkylakeX", true, coreAVX2, "Haswell", nil},
		"build without AVX-512":       {"Haswell", "SkylakeX", false, coreAVX512, "SkylakeX", []string{"this build of OpenBLAS has no faster kernels"}},
		"unknown core":                {"neoversen1", "", false, coreAVX512, "SkylakeX", nil},
		"unknown CPU":                 {"Haswell", "Haswell", true, coreUnknown, "", nil},
		"empty core":                  {"", "Haswell", true, coreAVX512, "SkylakeX", nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := openblasCoreWarning(tt.core, tt.env, tt.inherited, tt.cpuWidth, tt.cpuCore)
			if tt.want == nil {
				if got != "" {
					t.Fatalf("want no warning, got %q", got)
				}
				return
			}
			if !strings.HasPrefix(got, "warning: ") || strings.Contains(got, "\n") {
				t.Fatalf("want one line starting with warning:, got %q", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("warning lacks %q: %q", w, got)
				}
			}
		})
	}
}

// TestOpenBLASCoreWidth: every x86 core name OpenBLAS reports has a
// width, case aside.
func TestOpenBLASCoreWidth(t *testing.T) {
	for core, want := range map[string]int{"SkylakeX": coreAVX512, "SAPPHIRERAPIDS": coreAVX512, "Haswell": coreAVX2,
		"zen": coreAVX2, "Sandybridge": coreAVX, "Nehalem": coreSSE, "Prescott": coreSSE, "armv8": coreUnknown} {
		if got := openblasCoreWidth(core); got != want {
			t.Errorf("%s: width %s, want %s", core, coreWidthName[got], coreWidthName[want])
		}
	}
}
