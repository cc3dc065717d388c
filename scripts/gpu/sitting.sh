#!/usr/bin/env bash
# sitting.sh: issue 14's training anchors in one sitting, in one device
# call: mambakit's `bench train` and state-spaces/mamba with causal-conv1d
# (scripts/gpu/peer.sh) on the same card, alternated, and the ratios.
# Device machines come rarely and each start costs minutes: this puts what
# belongs together into one command that ends inside the call's limit.
#
#   scripts/gpu/sitting.sh pack
#       here: static binaries (CGO_ENABLED=0: mambakit, cudakernels.test,
#       cudamodel.test) into .gpu/bin.tar.xz, and the peer's sources into
#       .gpu/peer/src.tar.xz when they are not there (peer.sh pack; fetch
#       state-spaces/mamba and Dao-AILab/causal-conv1d first). Prints the
#       carry list. With BASE=REV (a git revision, e.g. the commit before
#       a change) also the mambakit of REV into .gpu/base.tar.xz: run
#       then times it beside this build.
#   bash scripts/gpu/sitting.sh run
#       on the GPU machine, with carry [".gpu/bin.tar.xz",
#       ".gpu/peer/src.tar.xz"] (and ".gpu/peer/so" when an earlier call
#       sent the built extensions back: no compile then):
#        1. the peer's build in the background (skipped when built or
#           carried), while the GPU tests named by $TESTS (a -test.run
#           pattern of cudamodel.test; default none) and
#           `bench train --ops` (bf16: where a step goes) run, then
#           $DURING (a shell command, e.g. other benchmarks: the GPU is
#           idle while the peer compiles), bounded to leave
#           $DURING_RESERVE seconds (default 260) for what follows;
#        2. once it is built: bench train fp32, tf32 and bf16, the peer's
#           training section (with and without causal-conv1d), bench
#           train again: the same card, the same sitting (when the build
#           did not finish in time: bench train once in each precision);
#           with .gpu/base.tar.xz carried, the base build's bf16 runs
#           alternate with this build's, and summary.txt gives their ratio;
#           then the peer's training section again when 70 s are left,
#           and the ratios against the better of its runs;
#        3. $EXTRA (a shell command run after, e.g. a bench generate), if
#           time is left.
#       Every step is bounded so that the whole ends inside $BUDGET
#       seconds (default 570: a call runs at most 600). $OUT gets
#       summary.txt (the ratios), sitting.tar.xz (every log) and, when the
#       extensions were compiled here, peer-so/ (carry it as .gpu/peer/so
#       next time).
#
# The sources and binaries live in .gpu/ (git-ignored), never in the
# repository. docs/gpu.md, "The peer anchors (issue 14)".
set -u
cd "$(dirname "$0")/../.."

die() {
	echo "sitting.sh: $*" >&2
	exit 1
}

pack() {
	set -e
	mkdir -p .gpu/bin
	grep -qx '/.gpu/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null ||
		echo '/.gpu/' >>"$(git rev-parse --git-common-dir)/info/exclude"
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o .gpu/bin/mambakit ./cmd/mambakit
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/bin/cudakernels.test ./framework/cudakernels
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/bin/cudamodel.test ./framework/cudamodel
	git rev-parse HEAD >.gpu/bin/COMMIT
	git status --porcelain --untracked-files=no | grep -q . && echo "(uncommitted changes)" >>.gpu/bin/COMMIT
	tar -C .gpu/bin -cJf .gpu/bin.tar.xz mambakit cudakernels.test cudamodel.test COMMIT
	[ -f .gpu/peer/src.tar.xz ] || bash scripts/gpu/peer.sh pack
	ls -la .gpu/bin.tar.xz .gpu/peer/src.tar.xz
	local carry='".gpu/bin.tar.xz", ".gpu/peer/src.tar.xz"'
	if [ -n "${BASE:-}" ]; then
		local rev wt=/tmp/sitting-base.$$
		rev=$(git rev-parse --verify "$BASE^{commit}") || die "BASE=$BASE is not a commit"
		git worktree add -q --detach "$wt" "$rev"
		mkdir -p .gpu/base
		(cd "$wt" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o "$OLDPWD/.gpu/base/mambakit" ./cmd/mambakit)
		local rc=$?
		git worktree remove --force "$wt"
		[ $rc = 0 ] || die "building mambakit at $rev failed"
		echo "$rev" >.gpu/base/COMMIT
		tar -C .gpu -cJf .gpu/base.tar.xz base/mambakit base/COMMIT
		ls -la .gpu/base.tar.xz
		carry+=', ".gpu/base.tar.xz"'
	fi
	compgen -G ".gpu/peer/so/*.so*" >/dev/null && carry+=', ".gpu/peer/so"'
	echo "carry: [$carry]"
}

# left prints the seconds left of $BUDGET.
left() { echo $((BUDGET - ($(date +%s) - T0))); }

# ours NAME ARGS...: one bench train run, bounded by what is left (less
# the reserve R), its last line in the summary; BIN picks the binary
# (default this build's).
ours() {
	local name=$1 lim
	shift
	lim=$(($(left) - ${R:-0}))
	if [ "$lim" -lt 40 ]; then
		echo "$name: skipped, $(left) s left" | tee -a "$L/summary.txt"
		return
	fi
	timeout "$lim" "${BIN:-.gpu/mambakit}" bench train --device cuda "$@" >"$L/$name.txt" 2>&1
	echo "$name (exit $?): $(grep -h 'tokens_per_s=' "$L/$name.txt" | tail -1)" | tee -a "$L/summary.txt"
}

# base NAME R: the base build's bf16 run (when carried), reserve R.
base() {
	[ -x .gpu/base/mambakit ] || return 0
	BIN=.gpu/base/mambakit R=$2 ours "$1" --precision bf16 --steps 8
}

# median FILES...: the median tokens/s of bench train logs.
median() {
	grep -h 'tokens_per_s=' "$@" 2>/dev/null | sed 's/.*tokens_per_s=\([0-9.]*\).*/\1/' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratios prints, for each precision, the median of mambakit's runs and the
# peer's tokens/s with causal-conv1d from peer.tsv, and their ratio.
ratios() {
	{
		echo "== tokens/s, mamba-130m shape, 8 x 2048 (this sitting)"
		for p in bf16 tf32 fp32; do
			local o pe
			o=$(median "$L"/ours-"$p"-*.txt)
			local runs
			runs=$(awk -F'\t' -v n="train $p" '$1 == n && $2 == "causal-conv1d" && $4 == "tokens/s" { printf "%s%.0f", sep, $3; sep = " " }' "$L/peer.tsv" "$L/peer-2/peer.tsv" 2>/dev/null)
			pe=$(echo $runs | tr ' ' '\n' | sort -n | tail -1)
			if [ -n "$o" ] && [ -n "$pe" ]; then
				echo "$p: mambakit $o (median), peer with causal-conv1d $pe (best of: $runs): $(awk -v a="$o" -v b="$pe" 'BEGIN { printf "%.2f", a / b }')x"
			else
				echo "$p: mambakit ${o:-none}, peer with causal-conv1d ${pe:-none}"
			fi
		done
		if [ -x .gpu/base/mambakit ]; then
			local o b
			o=$(median "$L"/ours-bf16-*.txt)
			b=$(median "$L"/base-bf16-*.txt)
			if [ -n "$o" ] && [ -n "$b" ]; then
				echo "bf16: this build $o (median), the base $(cat .gpu/base/COMMIT) $b: $(awk -v a="$o" -v b="$b" 'BEGIN { printf "%.3f", a / b }')x"
			else
				echo "bf16: this build ${o:-none}, the base ${b:-none}"
			fi
		fi
	} | tee -a "$L/summary.txt"
}

run() {
	OUT=${OUT:-/tmp/sitting-out}
	BUDGET=${BUDGET:-570}
	T0=$(date +%s)
	L=/tmp/sitting
	rm -rf "$L"
	mkdir -p "$L" "$OUT"
	[ -f .gpu/bin.tar.xz ] || die "no .gpu/bin.tar.xz: run 'scripts/gpu/sitting.sh pack' here and carry it"
	tar -C .gpu -xJf .gpu/bin.tar.xz || die "cannot unpack .gpu/bin.tar.xz"
	if [ -f .gpu/base.tar.xz ]; then
		tar -C .gpu -xJf .gpu/base.tar.xz || die "cannot unpack .gpu/base.tar.xz"
	fi
	{
		echo "== sitting.sh, $(date -u +%FT%TZ), build $(tr '\n' ' ' <.gpu/COMMIT)"
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
	} | tee "$L/summary.txt"
	# 1. The peer's build (at most 60% of the budget), with the tests and
	# the profile beside it (the compile uses the CPUs, not the GPU).
	local bp=""
	if [ ! -f .gpu/peer/BUILT ]; then
		(BUILD_TIMEOUT=$((BUDGET * 6 / 10)) OUT=$L bash scripts/gpu/peer.sh build >"$L/build.out" 2>&1) &
		bp=$!
	fi
	if [ -n "${TESTS:-}" ]; then
		(cd framework/cudamodel && timeout $(($(left) / 3)) ../../.gpu/cudamodel.test -test.run "$TESTS" -test.v -test.count=1) >"$L/tests.log" 2>&1
		echo "tests $TESTS: exit $?; $(grep -c '^--- PASS' "$L/tests.log") passed, $(grep -c '^--- FAIL' "$L/tests.log") failed" | tee -a "$L/summary.txt"
	fi
	R=200 ours ops-bf16 --precision bf16 --steps 6 --ops
	if [ -n "${DURING:-}" ]; then
		local dl=$(($(left) - ${DURING_RESERVE:-260}))
		if [ "$dl" -ge 30 ]; then
			timeout "$dl" bash -c "$DURING" >"$L/during.txt" 2>&1
			echo "during: exit $?" | tee -a "$L/summary.txt"
		else
			echo "during: skipped, $(left) s left" | tee -a "$L/summary.txt"
		fi
	fi
	if [ -n "$bp" ]; then
		wait "$bp"
		echo "peer build: $(tail -1 "$L/build.out")" | tee -a "$L/summary.txt"
		[ -d "$L/peer-so" ] && cp -r "$L/peer-so" "$OUT/"
	fi
	# 2. Alternated: ours, the peer, ours.
	if [ -f .gpu/peer/BUILT ] || compgen -G ".gpu/peer/so/*.so*" >/dev/null; then
		base base-bf16-1 170
		R=150 ours ours-bf16-1 --precision bf16 --steps 8
		R=130 ours ours-tf32-1 --precision tf32 --steps 8
		R=110 ours ours-fp32-1 --precision fp32 --steps 8
		local nb=0 pb
		[ -x .gpu/base/mambakit ] && nb=1
		pb=$(($(left) - 80 - 50 * nb))
		if [ $pb -ge 60 ]; then
			OUT=$L BENCH_ARGS="--sections info,train --budget $((pb - 30))" BENCH_TIMEOUT=$pb bash scripts/gpu/peer.sh bench >"$L/peer.out" 2>&1
			echo "peer bench: exit $?" | tee -a "$L/summary.txt"
		else
			echo "peer bench: skipped, $(left) s left" | tee -a "$L/summary.txt"
		fi
		R=$((50 * nb)) ours ours-bf16-2 --precision bf16 --steps 8
		base base-bf16-2 0
		R=20 ours ours-tf32-2 --precision tf32 --steps 8
		R=0 ours ours-fp32-2 --precision fp32 --steps 8
		# The peer again when time is left: its first run after a build
		# has come out 13% slower than its second (session 38), so the
		# ratios hold against the better of its runs.
		pb=$(($(left) - 10))
		if [ $pb -ge 70 ]; then
			mkdir -p "$L/peer-2"
			OUT=$L/peer-2 BENCH_ARGS="--sections info,train --budget $((pb - 30))" BENCH_TIMEOUT=$pb bash scripts/gpu/peer.sh bench >"$L/peer-2/peer.out" 2>&1
			echo "peer bench, again: exit $?" | tee -a "$L/summary.txt"
		fi
		ratios
	else
		echo "the peer is not built: no anchors this call (carry $OUT/peer-so as .gpu/peer/so next time, or run 'bash scripts/gpu/peer.sh build' again on this warm machine: the finished objects are kept); mambakit alone:" | tee -a "$L/summary.txt"
		base base-bf16-1 100
		R=80 ours ours-bf16-1 --precision bf16 --steps 8
		base base-bf16-2 60
		R=40 ours ours-tf32-1 --precision tf32 --steps 8
		R=20 ours ours-fp32-1 --precision fp32 --steps 8
		ratios
	fi
	# 3. Whatever else was asked, in the time left.
	if [ -n "${EXTRA:-}" ] && [ "$(left)" -gt 30 ]; then
		timeout $(($(left) - 10)) bash -c "$EXTRA" >"$L/extra.txt" 2>&1
		echo "extra: exit $?" | tee -a "$L/summary.txt"
	fi
	cp "$L/summary.txt" "$OUT/"
	tar -C /tmp --exclude sitting/peer-so -cJf "$OUT/sitting.tar.xz" sitting
	echo "== $(($(date +%s) - T0)) s"
}

case "${1:-}" in
pack) pack ;;
run) run ;;
*)
	sed -n '2,44p' "$0"
	exit 2
	;;
esac
