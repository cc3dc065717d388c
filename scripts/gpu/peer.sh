#!/usr/bin/env bash
# peer.sh: the peer anchors of issue 14: state-spaces/mamba with
# Dao-AILab/causal-conv1d (and with causal-conv1d disabled), built from
# source on the GPU machine for sm_90 only, timed by peer_bench.py.
#
#   scripts/gpu/peer.sh pack [MAMBA_GIT CONV_GIT]
#       here: git archive the two fetched repositories (bare git dirs; or
#       $MAMBA_GIT, $CONV_GIT) into .gpu/peer/src.tar.xz, without tests,
#       benchmarks or assets; their commits go to .gpu/peer/VERSIONS.
#   bash scripts/gpu/peer.sh build
#       on the GPU machine (no network): unpack into .gpu/peer/build/,
#       patch both setup.py files to build for sm_90 only (and split
#       causal-conv1d's two large .cu files into units that compile at
#       once: split_units), build both CUDA extensions in place (python3
#       setup.py build_ext --inplace, the two at once), check that they
#       import, write .gpu/peer/BUILT. Restartable:
#       a package whose extension is there is skipped, and ninja keeps the
#       objects already compiled; the compile stops cleanly (exit 3) after
#       $BUILD_TIMEOUT s (default 550), so run build again on the same warm
#       machine to finish. Logs: $OUT/peer-build.log (summary), and
#       $OUT/peer-build-mamba.log, peer-build-causal-conv1d.log (compiler).
#       The built .so files are copied, xz-compressed, to $OUT/peer-so/; put
#       them in .gpu/peer/so/ (as .so.xz, or decompressed) and carry that to
#       skip the compile on a fresh machine.
#   bash scripts/gpu/peer.sh bench
#       on the GPU machine, after build: peer_bench.py, writing
#       $OUT/peer-bench.log and $OUT/peer.tsv (name, setting, value, unit).
#
# With the device tool: build with carry [".gpu/peer/src.tar.xz"] (and
# ".gpu/peer/so" if you have it); bench on the same warm machine with no
# carry (a carry of ".gpu/peer" would replace the built tree).
# Env: PYTHON (default /opt/torch/.venv/bin/python3, else python3), MAX_JOBS
# (default 12), BUILD_TIMEOUT (default 550 s), PEER_CXX_STD (c++17 or c++20;
# default: upstream's c++17 below torch 2.13), BENCH_TIMEOUT (default 540 s),
# BENCH_ARGS (peer_bench.py flags).
# The sources are fetched, never committed (.gpu/ is git-ignored).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
P=.gpu/peer
B=$P/build
OUT=${OUT:-/tmp/peer-out}

if [ -n "${PYTHON:-}" ]; then
	PY=$PYTHON
elif [ -x /opt/torch/.venv/bin/python3 ]; then
	PY=/opt/torch/.venv/bin/python3
else
	PY=python3
fi

die() {
	echo "peer.sh: $*" >&2
	exit 1
}

# The extension modules each package builds, by source directory.
so_of() {
	case "$1" in
	mamba) echo selective_scan_cuda ;;
	causal-conv1d) echo causal_conv1d_cuda ;;
	esac
}

have_so() { # dir module
	compgen -G "$1/$2.*.so" >/dev/null
}

# xz_to SRC DST, unxz_to SRC DST: with Python's lzma (the image need not
# have xz). The built .so files are about 25 and 67 MB, 11 and 9 MB as xz:
# small enough to come back from the GPU machine and to carry.
xz_to() {
	"$PY" -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.compress(open(sys.argv[1], "rb").read(), preset=6))' "$1" "$2"
}
unxz_to() {
	"$PY" -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.decompress(open(sys.argv[1], "rb").read()))' "$1" "$2"
}

pack() {
	set -e
	local mg=${1:-${MAMBA_GIT:-/work/.mirror/state-spaces+mamba/repo}}
	local cg=${2:-${CONV_GIT:-/work/.mirror/Dao-AILab+causal-conv1d/repo}}
	git --git-dir="$mg" rev-parse --verify -q HEAD >/dev/null || die "pack: $mg is not a git dir with a HEAD"
	git --git-dir="$cg" rev-parse --verify -q HEAD >/dev/null || die "pack: $cg is not a git dir with a HEAD"
	mkdir -p .gpu
	grep -qx '/.gpu/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null ||
		echo '/.gpu/' >>"$(git rev-parse --git-common-dir)/info/exclude"
	git check-ignore -q .gpu/peer/src.tar.xz || die "pack: .gpu/ is not git-ignored here"
	local tmp
	tmp=$(mktemp -d)
	PACK_TMP=$tmp
	trap 'rm -rf "$PACK_TMP"' EXIT
	mkdir -p "$tmp/mamba" "$tmp/causal-conv1d" "$P"
	git --git-dir="$mg" archive HEAD | tar -x -C "$tmp/mamba"
	git --git-dir="$cg" archive HEAD | tar -x -C "$tmp/causal-conv1d"
	# Not needed to build or import (setup.py reads README.md: keep it).
	(cd "$tmp/mamba" && rm -rf .github tests benchmarks assets evals rocm_patch 3rdparty .gitmodules)
	(cd "$tmp/causal-conv1d" && rm -rf .github tests rocm_patch)
	{
		printf 'mamba\t%s\t%s\t%s\n' "$(git --git-dir="$mg" rev-parse HEAD)" "$(git --git-dir="$mg" log -1 --format=%cs)" "$mg"
		printf 'causal-conv1d\t%s\t%s\t%s\n' "$(git --git-dir="$cg" rev-parse HEAD)" "$(git --git-dir="$cg" log -1 --format=%cs)" "$cg"
	} >"$P/VERSIONS"
	cp "$P/VERSIONS" "$tmp/VERSIONS"
	tar -C "$tmp" -cf - VERSIONS mamba causal-conv1d | xz -9e -T0 >"$P/src.tar.xz.new"
	mv "$P/src.tar.xz.new" "$P/src.tar.xz"
	cat "$P/VERSIONS"
	ls -la "$P/src.tar.xz"
}

# patch_setup DIR: sm_90 only. Every CUDAExtension's extra_compile_args goes
# through _peer_sm90, which drops the -gencode pairs (and -arch) that
# setup.py adds for each architecture the nvcc version supports, adds
# -gencode arch=compute_90,code=sm_90, and drops -lineinfo (line tables only,
# the code is the same; it keeps the .so small enough to carry back). Fails
# loudly if setup.py does not have the expected shape. Idempotent. It also
# moves -std=c++17 to c++20 where torch needs it (see below).
patch_setup() {
	"$PY" - "$1/setup.py" <<'EOF'
import re, sys
path = sys.argv[1]
src = open(path).read()
MARK = "# peer.sh: sm_90 only"
if MARK in src:
    print(f"{path}: already patched")
    sys.exit(0)
if 'arch=compute_90,code=sm_90' not in src:
    sys.exit(f"{path}: no 'arch=compute_90,code=sm_90' in setup.py; its arch flags changed, patch by hand")
n = src.count("extra_compile_args=extra_compile_args")
if n != 1:
    sys.exit(f"{path}: expected 1 'extra_compile_args=extra_compile_args', found {n}; patch by hand")
src = src.replace("extra_compile_args=extra_compile_args", "extra_compile_args=_peer_sm90(extra_compile_args)")
# wheel >= 0.46 keeps wheel.bdist_wheel only as an alias of setuptools'; fall back to setuptools'.
old = "from wheel.bdist_wheel import bdist_wheel as _bdist_wheel"
if old in src:
    src = src.replace(old, "try:\n    " + old + "\nexcept ImportError:\n    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel")
head = f'''{MARK} (patched by scripts/gpu/peer.sh)
def _peer_sm90(args):
    nv, out, skip = list(args["nvcc"]), [], False
    for i, f in enumerate(nv):
        if skip:
            skip = False
            continue
        if f == "-gencode" and i + 1 < len(nv) and nv[i + 1].startswith("arch="):
            skip = True
            continue
        if f.startswith("-gencode=") or f.startswith("-arch") or f.startswith("--gpu-architecture") or f == "-lineinfo":
            continue
        out.append(f)
    out += ["-gencode", "arch=compute_90,code=sm_90"]
    # The C++ standard: upstream pins -std=c++17; torch >= 2.14 headers
    # require C++20 (#error in ATen.h), so take c++20 from torch 2.13 on, or
    # $PEER_CXX_STD.
    import os, torch
    tv = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
    std = os.environ.get("PEER_CXX_STD") or ("c++20" if tv >= (2, 13) else "")
    cxx = list(args.get("cxx", []))
    if std:
        out = [f for f in out if not f.startswith("-std=")] + ["-std=" + std]
        cxx = [f for f in cxx if not f.startswith("-std=")] + ["-std=" + std]
    print("peer.sh: nvcc flags:", " ".join(out), flush=True)
    print("peer.sh: cxx flags:", " ".join(cxx), flush=True)
    return dict(args, nvcc=out, cxx=cxx)


'''
open(path, "w").write(head + src)
print(f"{path}: patched for sm_90 only")
EOF
}

# split_units DIR FILE...: compile each FILE (csrc/NAME.cu) of DIR as
# several translation units, so that ninja runs them at once. The files
# hold templates only, instantiated explicitly at the end (causal-conv1d's
# forward and backward: 18 `template void ...;` lines each, one per input
# and weight type, channel-first and channel-last); part K of FILE is FILE
# with only every 6th of those lines, from the K-th. The code and flags
# each kernel is compiled with are the same; the backward alone was not
# done after 600 s on the H200 of session 35. setup.py's sources list the
# parts instead of FILE. Fails loudly if FILE or its line in setup.py is
# not there. Idempotent.
split_units() {
	"$PY" - "$@" <<'EOF'
import re, sys
d, files, parts = sys.argv[1], sys.argv[2:], 6
setup = open(f"{d}/setup.py").read()
MARK = "# peer.sh: split into translation units"
if MARK in setup:
    print(f"{d}/setup.py: already split")
    sys.exit(0)
inst = re.compile(r"^template void \w+<[^;]*>\([^;]*\);\s*$")
for f in files:
    lines = open(f"{d}/csrc/{f}").read().split("\n")
    at = [i for i, l in enumerate(lines) if inst.match(l)]
    if len(at) < parts:
        sys.exit(f"{d}/csrc/{f}: {len(at)} explicit instantiations, want at least {parts}; split by hand")
    names = []
    for k in range(parts):
        drop = set(at) - set(at[k::parts])
        name = f.replace(".cu", f"_part{k}.cu")
        open(f"{d}/csrc/{name}", "w").write("\n".join(l for i, l in enumerate(lines) if i not in drop))
        names.append(f'"csrc/{name}"')
    old = f'"csrc/{f}",'
    if setup.count(old) != 1:
        sys.exit(f"{d}/setup.py: expected 1 {old}, found {setup.count(old)}; split by hand")
    setup = setup.replace(old, ", ".join(names) + ",")
    print(f"{d}/csrc/{f}: {len(at)} instantiations in {parts} units")
open(f"{d}/setup.py", "w").write(f"{MARK}\n" + setup)
EOF
}

# build_one DIR JOBS LIMIT: build DIR's extension in place, stopped (SIGINT to
# the whole group: ninja keeps the objects it finished) after LIMIT seconds.
# Its log is $OUT/peer-build-DIR.log as it goes, copied to $B/DIR.log.
build_one() {
	local d=$1 jobs=$2 limit=$3 mod t0 rc
	mod=$(so_of "$d")
	t0=$(date +%s)
	(
		cd "$B/$d" || exit 1
		echo "== $d: $PY setup.py build_ext --inplace (MAX_JOBS=$jobs, at most $limit s), $(date -u +%FT%TZ)"
		# FORCE_BUILD: no wheel download; KEEP_CUDA_BUILD: mamba builds
		# selective_scan_cuda only when asked (Mamba-1 needs it).
		MAX_JOBS=$jobs TORCH_CUDA_ARCH_LIST=9.0 \
			MAMBA_FORCE_BUILD=TRUE MAMBA_KEEP_CUDA_BUILD=TRUE \
			CAUSAL_CONV1D_FORCE_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=FALSE \
			timeout -s INT -k 20 "$limit" "$PY" setup.py build_ext --inplace
	) >"$OUT/peer-build-$d.log" 2>&1
	rc=$?
	if [ $rc = 124 ] || [ $rc = 130 ] || [ $rc = 137 ]; then
		echo "stopped at the $limit s limit (exit $rc): the objects done are kept, run build again to go on" >>"$OUT/peer-build-$d.log"
		rc=124
	elif [ $rc = 0 ] && ! have_so "$B/$d" "$mod"; then
		echo "no $mod.*.so after the build" >>"$OUT/peer-build-$d.log"
		rc=1
	fi
	echo "$d: exit $rc in $(($(date +%s) - t0)) s" | tee -a "$OUT/peer-build-$d.log"
	cp "$OUT/peer-build-$d.log" "$B/$d.log"
	return $rc
}

build_body() {
	[ -f "$P/src.tar.xz" ] || die "build: no $P/src.tar.xz (run 'scripts/gpu/peer.sh pack' and carry it)"
	local t0
	t0=$(date +%s)
	echo "== peer.sh build, $(date -u +%FT%TZ), python $PY"
	"$PY" -c 'import torch, triton; print("torch", torch.__version__, "cuda", torch.version.cuda, "triton", triton.__version__)' || die "build: no torch"
	# torch's BuildExtension compiles with ninja (in parallel) only if a ninja
	# binary is on PATH, else one file at a time: the venv's bin has it.
	PATH="$(dirname "$PY"):$PATH"
	export PATH
	command -v ninja >/dev/null || die "build: no ninja on PATH (the build would be serial)"
	echo "ninja: $(command -v ninja) $(ninja --version)"
	"$PY" -c 'from torch.utils.cpp_extension import CUDA_HOME; print("CUDA_HOME", CUDA_HOME)'
	echo "nvcc: $(command -v nvcc) $(nvcc --version 2>/dev/null | tail -1)"
	echo "g++: $(g++ --version 2>/dev/null | head -1)"
	nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null
	local want
	want=$("$PY" -c 'import sys, tarfile; sys.stdout.write(tarfile.open(sys.argv[1]).extractfile("VERSIONS").read().decode())' "$P/src.tar.xz") || die "build: cannot read VERSIONS in $P/src.tar.xz"
	if [ ! -f "$B/VERSIONS" ] || [ "$(cat "$B/VERSIONS")" != "$want" ]; then
		echo "unpacking $P/src.tar.xz into $B"
		rm -rf "$B" "$P/BUILT"
		mkdir -p "$B"
		# Python's tarfile: the image need not have xz.
		"$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' "$P/src.tar.xz" "$B" ||
			die "build: untar failed"
	fi
	echo "$want"
	patch_setup "$B/mamba" || die "build: patching mamba/setup.py failed"
	patch_setup "$B/causal-conv1d" || die "build: patching causal-conv1d/setup.py failed"
	split_units "$B/causal-conv1d" causal_conv1d_fwd.cu causal_conv1d_bwd.cu || die "build: splitting causal-conv1d's units failed"
	local jobs=${MAX_JOBS:-12} d mod j pids=() names=() compiled=0
	for d in causal-conv1d mamba; do
		mod=$(so_of "$d")
		if have_so "$B/$d" "$mod"; then
			echo "$d: $mod built already, skipped"
		elif compgen -G "$P/so/$mod.*.so" >/dev/null; then
			cp "$P"/so/"$mod".*.so "$B/$d/" && echo "$d: $mod taken from $P/so (built earlier)"
		elif compgen -G "$P/so/$mod.*.so.xz" >/dev/null; then
			for f in "$P"/so/"$mod".*.so.xz; do
				unxz_to "$f" "$B/$d/$(basename "$f" .xz)" || die "build: cannot decompress $f"
			done
			echo "$d: $mod taken from $P/so (built earlier, xz)"
		else
			# causal-conv1d has 13 .cu units once split, mamba ten: both
			# at once.
			j=$jobs
			compiled=1
			build_one "$d" "$j" "$((${BUILD_TIMEOUT:-550} - $(date +%s) + t0))" &
			pids+=($!)
			names+=("$d")
		fi
	done
	local i rc=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		case $? in
		0) continue ;;
		124)
			rc=124
			echo "== ${names[$i]} not finished in BUILD_TIMEOUT=${BUILD_TIMEOUT:-550} s: run 'bash scripts/gpu/peer.sh build' again on the same machine"
			grep -E '^\[[0-9]+/[0-9]+\]' "$B/${names[$i]}.log" | tail -n 3
			;;
		*)
			rc=1
			echo "== ${names[$i]} FAILED; the first errors (full log: $OUT/peer-build-${names[$i]}.log):"
			grep -n -E 'error|unsupported GNU version|fatal|Traceback' "$B/${names[$i]}.log" | grep -v -E 'Werror|error_|_error' | head -20
			echo "-- last lines:"
			tail -n 15 "$B/${names[$i]}.log"
			if grep -q 'unsupported GNU version' "$B/${names[$i]}.log"; then
				echo "hint: host g++ too new for nvcc: rerun with NVCC_PREPEND_FLAGS=-allow-unsupported-compiler"
			fi
			;;
		esac
	done
	if [ $rc = 124 ]; then
		echo "peer.sh: build not finished after $(($(date +%s) - t0)) s (exit 3)"
		exit 3
	fi
	[ $rc = 0 ] || die "build failed after $(($(date +%s) - t0)) s"
	# Compiled here: send the extensions back (xz) for later machines.
	if [ $compiled = 1 ]; then
		mkdir -p "$OUT/peer-so"
		for d in causal-conv1d mamba; do
			mod=$(so_of "$d")
			for f in "$B/$d"/"$mod".*.so; do
				xz_to "$f" "$OUT/peer-so/$(basename "$f").xz" || die "build: cannot compress $f"
			done
			command -v cuobjdump >/dev/null && echo "$mod: $(cuobjdump --list-elf "$B/$d"/"$mod".*.so 2>/dev/null | grep -o 'sm_[0-9a-z]*' | sort | uniq -c | tr '\n' ' ')"
		done
		ls -la "$OUT/peer-so"
	fi
	echo "== import check"
	PYTHONPATH="$ROOT/$B/mamba:$ROOT/$B/causal-conv1d${PYTHONPATH:+:$PYTHONPATH}" "$PY" -c '
import torch, causal_conv1d_cuda, selective_scan_cuda, causal_conv1d, mamba_ssm
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel
print("import ok: mamba_ssm", mamba_ssm.__version__, "causal_conv1d", causal_conv1d.__version__)' ||
		die "build: the packages were built but do not import (see above)"
	cp "$B/VERSIONS" "$P/BUILT"
	echo "BUILT in $(($(date +%s) - t0)) s"
}

# build: build_body with its summary on stdout and in $OUT/peer-build.log
# (the compiler logs: $OUT/peer-build-mamba.log, peer-build-causal-conv1d.log).
build() {
	mkdir -p "$OUT"
	build_body 2>&1 | tee -a "$OUT/peer-build.log"
	return "${PIPESTATUS[0]}"
}

bench() {
	mkdir -p "$OUT"
	if [ ! -f "$P/BUILT" ]; then
		if compgen -G "$P/so/selective_scan_cuda.*.so*" >/dev/null && compgen -G "$P/so/causal_conv1d_cuda.*.so*" >/dev/null; then
			echo "not built here: unpacking and taking the extensions from $P/so"
			(build) >/dev/null 2>&1 || die "bench: build from $P/so failed ($OUT/peer-build.log)"
		else
			die "bench: not built ($P/BUILT missing): run 'bash scripts/gpu/peer.sh build' first"
		fi
	fi
	export PYTHONPATH="$ROOT/$B/mamba:$ROOT/$B/causal-conv1d${PYTHONPATH:+:$PYTHONPATH}"
	export PEER_VERSIONS="$ROOT/$P/BUILT" PYTHONUNBUFFERED=1
	local t0
	t0=$(date +%s)
	# shellcheck disable=SC2086
	timeout "${BENCH_TIMEOUT:-540}" "$PY" -u scripts/gpu/peer_bench.py --tsv "$OUT/peer.tsv" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/peer-bench.log"
	local rc=${PIPESTATUS[0]}
	echo "peer_bench.py: exit $rc in $(($(date +%s) - t0)) s" | tee -a "$OUT/peer-bench.log"
	return "$rc"
}

case "${1:-}" in
pack)
	shift
	pack "$@"
	;;
build) build ;;
bench) bench ;;
*)
	sed -n '2,33p' "$0"
	exit 2
	;;
esac
