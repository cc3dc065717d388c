package kernels

import (
	"fmt"
	"strings"

	"golang.org/x/sys/cpu"
)

// Which kernels OpenBLAS runs, and whether a comparison with it is fair.
//
// A DYNAMIC_ARCH OpenBLAS picks its kernels ("core") when it loads: from
// $OPENBLAS_CORETYPE when set, else from the CPU it recognises. mambakit
// sets OPENBLAS_CORETYPE=SkylakeX on a CPU with AVX-512 when it is unset
// (openblas.go: builds that predate the CPU, such as Debian 12's 0.3.21 on
// Zen 4 and Zen 5, fall back to Haswell), and honours an inherited value.
// An inherited value may name slower kernels than the CPU runs (some
// machines set OPENBLAS_CORETYPE=Haswell for older builds): OpenBLAS then
// runs at about half its speed, and a table of go against OpenBLAS is
// unfair. OpenBLASCoreCheck says so.

// openblasEnv is OPENBLAS_CORETYPE as loadOpenBLAS found it.
var openblasEnv struct {
	value     string
	inherited bool // set before mambakit loaded OpenBLAS
	setByUs   bool // mambakit set it (to SkylakeX)
}

// Vector widths of OpenBLAS's kernels, by core.
const (
	coreUnknown = iota // not an x86 core name this file knows
	coreSSE
	coreAVX
	coreAVX2
	coreAVX512
)

var coreWidthName = [...]string{coreUnknown: "unknown", coreSSE: "SSE", coreAVX: "AVX", coreAVX2: "AVX2", coreAVX512: "AVX-512"}

// openblasCoreWidth returns the vector width of the kernels of an OpenBLAS
// core name (openblas_get_corename or OPENBLAS_CORETYPE; any case).
func openblasCoreWidth(core string) int {
	switch strings.ToLower(strings.TrimSpace(core)) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return coreAVX512
	case "haswell", "zen":
		return coreAVX2
	case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator":
		return coreAVX
	case "katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
		"nehalem", "atom", "athlon", "opteron", "opteron(sse3)", "barcelona", "nano", "bobcat":
		return coreSSE
	}
	return coreUnknown
}

// cpuCoreWidth returns the widest OpenBLAS kernels this CPU runs, and the
// core that has them.
func cpuCoreWidth() (int, string) {
	x := cpu.X86
	switch {
	case x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL:
		return coreAVX512, "SkylakeX"
	case x.HasAVX2 && x.HasFMA:
		return coreAVX2, "Haswell"
	case x.HasAVX:
		return coreAVX, "Sandybridge"
	case x.HasSSE2:
		return coreSSE, "Nehalem"
	}
	return coreUnknown, ""
}

// openblasCoreWarning decides: core is the one OpenBLAS got, env the
// OPENBLAS_CORETYPE it loaded with (inherited: from the environment, not
// set by mambakit), cpuWidth and cpuCore the best this CPU runs. It
// returns "" when OpenBLAS runs kernels as wide as the CPU's (or either
// is unknown), else a one-line warning saying why and how to compare
// fairly.
func openblasCoreWarning(core, env string, inherited bool, cpuWidth int, cpuCore string) string {
	got := openblasCoreWidth(core)
	if got == coreUnknown || cpuWidth == coreUnknown || got >= cpuWidth {
		return ""
	}
	if inherited {
		// How much faster depends on the CPU: 1.4× on the large products
		// of an AVX-512 Xeon, 1.8–1.9× on Zen 5 (docs/benchmarks.md).
		return fmt.Sprintf("warning: OPENBLAS_CORETYPE=%s, inherited from the environment, pins OpenBLAS to its %s (%s) kernels; "+
			"this CPU runs its faster %s (%s) ones: to compare fairly, unset it (env -u OPENBLAS_CORETYPE mambakit …) or set OPENBLAS_CORETYPE=%s",
			env, core, coreWidthName[got], cpuCore, coreWidthName[cpuWidth], cpuCore)
	}
	return fmt.Sprintf("warning: OpenBLAS runs its %s (%s) kernels though this CPU runs %s ones: this build of OpenBLAS has no faster kernels for it "+
		"(openblas_get_config above); compare against one that has (a newer OpenBLAS, DYNAMIC_ARCH)", core, coreWidthName[got], coreWidthName[cpuWidth])
}

// OpenBLASCoreCheck loads OpenBLAS (err when it does not load) and
// returns where its OPENBLAS_CORETYPE came from ("OPENBLAS_CORETYPE=Haswell
// from the environment", "OPENBLAS_CORETYPE=SkylakeX set by mambakit",
// "OPENBLAS_CORETYPE unset") and a warning when the kernels it runs are
// narrower than this CPU's (openblasCoreWarning; "" when they are not).
func OpenBLASCoreCheck() (setting, warning string, err error) {
	_, core, _, err := OpenBLASInfo()
	if err != nil {
		return "", "", err
	}
	e := openblasEnv
	switch {
	case e.setByUs:
		setting = "OPENBLAS_CORETYPE=" + e.value + " set by mambakit"
	case e.inherited:
		setting = "OPENBLAS_CORETYPE=" + e.value + " from the environment"
	default:
		setting = "OPENBLAS_CORETYPE unset"
	}
	w, c := cpuCoreWidth()
	return setting, openblasCoreWarning(core, e.value, e.inherited, w, c), nil
}
