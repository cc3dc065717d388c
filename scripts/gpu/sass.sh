#!/usr/bin/env bash
# sass.sh: a kernel file's machine code for sm_90, read on the CPU machine
# (no GPU): registers, stack and spills of each kernel (ptxas -v), and for
# each loop of each kernel (a backward branch) its length in instructions
# and what they are. For counting what a change to a kernel saves before
# a device machine is at hand (docs/gpu.md, "Reading the machine code
# without a GPU").
#
#   scripts/gpu/sass.sh FILE [NAME=VALUE ...]
#       e.g. scripts/gpu/sass.sh scan_real.cu SCAN_N=16 B_PC=0 C_PC=0
#       KERNEL=scan_bwd scripts/gpu/sass.sh ...   (the loops of one kernel)
#
# It compiles with NVRTC (go run ./scripts/gpu/ptx), then runs ptxas and
# cuobjdump: from $CUDA_BIN, else the PATH, else Debian's
# nvidia-cuda-toolkit (CUDA 11.8, non-free), downloaded once with
# apt-get download and unpacked (dpkg -x, no install) into .gpu/cuda-11.8.
# Its ptxas is older than the GPU machine's driver compiler: the counts
# are a guide to what a change saves, not the machine code that runs.
# Outputs in .gpu/sass/: the .ptx, .cubin, .sass and the ptxas report.
set -euo pipefail
cd "$(dirname "$0")/../.."
die() { echo "sass.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
file=$1
shift

tools() {
	if [ -n "${CUDA_BIN:-}" ]; then
		[ -x "$CUDA_BIN/ptxas" ] && [ -x "$CUDA_BIN/cuobjdump" ] || die "\$CUDA_BIN=$CUDA_BIN has no ptxas and cuobjdump"
		echo "$CUDA_BIN"
		return
	fi
	if command -v ptxas >/dev/null && command -v cuobjdump >/dev/null; then
		dirname "$(command -v ptxas)"
		return
	fi
	local root=.gpu/cuda-11.8
	if [ ! -x "$root/usr/bin/ptxas" ]; then
		local deb=.gpu/cuda-deb
		mkdir -p "$deb"
		if ! compgen -G "$deb/nvidia-cuda-toolkit_*.deb" >/dev/null; then
			echo "sass.sh: fetching Debian's nvidia-cuda-toolkit (about 80 MB, once)" >&2
			(cd "$deb" && apt-get download nvidia-cuda-toolkit >&2) ||
				die "apt-get download nvidia-cuda-toolkit failed: is Debian's non-free component in the apt sources (docs/gpu.md)?"
		fi
		dpkg -x "$deb"/nvidia-cuda-toolkit_*.deb "$root" || die "dpkg -x failed"
	fi
	echo "$root/usr/bin"
}
bin=$(tools)

o=.gpu/sass
mkdir -p "$o"
name=$(basename "$file" .cu)
for d in "$@"; do name="$name,$d"; done
name=${name//=/}
go run ./scripts/gpu/ptx -o "$o/$name.ptx" "$file" "$@"
"$bin/ptxas" -arch=sm_90 -v "$o/$name.ptx" -o "$o/$name.cubin" 2>"$o/$name.ptxas.txt" || { cat "$o/$name.ptxas.txt" >&2; die "ptxas failed"; }
"$bin/cuobjdump" -sass "$o/$name.cubin" >"$o/$name.sass"
echo "== $file $* (ptxas $("$bin/ptxas" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), sm_90)"
python3 - "$o/$name.ptxas.txt" "$o/$name.sass" "${KERNEL:-}" <<'PY'
import re, sys
from collections import Counter
report, sass, only = sys.argv[1], sys.argv[2], sys.argv[3]
kern = None
for line in open(report):
    m = re.search(r"Compiling entry function '(\w+)'", line)
    if m:
        kern = m.group(1)
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m and kern:
        frame, st, ld = m.groups()
    m = re.search(r"Used (\d+) registers(.*)", line)
    if m and kern and (not only or kern == only):
        print(f"{kern:24s} {m.group(1):>3} registers, stack {frame} B, spills {st}/{ld} B{m.group(2).rstrip()}")
funcs, cur = {}, None
for line in open(sass):
    m = re.match(r"\s+Function : (\w+)", line)
    if m:
        cur = m.group(1)
        funcs[cur] = []
        continue
    m = re.match(r"\s+/\*([0-9a-f]+)\*/\s+(.*?)\s*;", line)
    if m and cur:
        funcs[cur].append((int(m.group(1), 16), m.group(2)))
for f, ins in funcs.items():
    if only and f != only:
        continue
    at = {a: i for i, (a, _) in enumerate(ins)}
    loops = []
    for i, (a, t) in enumerate(ins):
        m = re.search(r"\bBRA (0x[0-9a-f]+)", t)
        if m and int(m.group(1), 16) < a and int(m.group(1), 16) in at:
            body = ins[at[int(m.group(1), 16)]:i + 1]
            ops = Counter(re.sub(r"^@!?U?P\w+\s+", "", x).split()[0].split(".")[0] for _, x in body)
            loops.append((int(m.group(1), 16), a, len(body), ops))
    print(f"{f}: {len(ins)} instructions" + (f", {len(loops)} loops" if loops else ""))
    for lo, hi, n, ops in loops:
        print(f"  loop {lo:#06x}-{hi:#06x} {n:5d}  " + " ".join(f"{k}:{v}" for k, v in ops.most_common(10)))
PY
