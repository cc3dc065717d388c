#!/usr/bin/env bash
# distributed.sh: data-parallel training (mambakit train --gpus N) on the
# GPU machine, in one call: NCCL on its own, the loss curve of N GPUs
# against 1 GPU at the same global batch, resumes across GPU counts, a rank
# killed mid-run, and tokens/s of the mamba-130m layer stack on 1 and N GPUs.
#
#   scripts/gpu/distributed.sh build      # here: CGO_ENABLED=0 $BIN/mambakit, $BIN/nccl.test
#   bash scripts/gpu/distributed.sh device   # on the GPU machine (device tool: carry [BIN])
#
# BIN is the folder of the binaries (default .gpu, git-ignored locally).
#
# Logs under $OUT (env.txt, nccl.log, curves.tsv, runs.log, fail.log,
# speed.tsv); the short table comes last. GPUS=N picks the GPU count
# (default: all); SKIP_FP32=1 skips the float32 throughput runs;
# SPEED_STEPS (default 10) sets the timed runs' length.
set -u
cd "$(dirname "$0")/../.."
# NVLink multicast stays off, here and in every process started from here.
export NCCL_NVLS_ENABLE=0 NVSHMEM_DISABLE_NVLS=1 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
BIN=${BIN:-.gpu}

case "${1:-}" in
build)
	set -e
	mkdir -p "$BIN"
	grep -qx "/$BIN/" .git/info/exclude 2>/dev/null || echo "/$BIN/" >>.git/info/exclude
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o "$BIN/nccl.test" ./framework/nccl
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o "$BIN/mambakit" ./cmd/mambakit
	ls -la "$BIN"
	;;
device)
	OUT=${OUT:-/tmp/mambakit-dist}
	mkdir -p "$OUT"
	T0=$(date +%s)
	el() { echo "[$(($(date +%s) - T0)) s] $*"; }
	N=${GPUS:-$(nvidia-smi -L | wc -l)}
	{
		nvidia-smi -L
		nvidia-smi --query-gpu=name,driver_version,memory.used,clocks.sm --format=csv,noheader
		nvidia-smi topo -m
		ls /opt/torch/.venv/lib/python3*/site-packages/nvidia/nccl/lib /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib 2>/dev/null | grep -i nccl
		env | grep -E '^(NCCL|NVSHMEM|TORCH_SYMM)' | sort
	} >"$OUT/env.txt" 2>&1
	el "$N GPU(s); NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE"
	W=$(mktemp -d)
	M=$BIN/mambakit

	# 1. NCCL alone: load, all-reduce across the GPUs in one process.
	(cd framework/nccl && timeout 90 "../../$BIN/nccl.test" -test.v -test.count=1 -test.run 'TestLoad|TestAllReduceGPUs') >"$OUT/nccl.log" 2>&1
	el "nccl test: exit $? — $(grep -E 'libnccl|GPUs:|^(ok|FAIL|PASS)|--- (FAIL|SKIP)' "$OUT/nccl.log" | tr '\n' ' ' | cut -c1-300)"

	# 2. The loss curve: A = 1 GPU, global batch 16, 40 steps; B = N GPUs
	# for 20 steps then resumed on 1 GPU; C = 1 GPU for 20 steps then
	# resumed on N GPUs. Small buckets, so that several are in flight.
	printf 'schedule_steps: 40\neval_tokens: 2048\nsample_tokens: 0\nbaseline_order: -1\nlog_every: 10\n' >"$W/c.yaml"
	targs="--modality text --preset small --seq-len 256 --batch 16 --seed 3 --eval-every 20 --save-every 20 --config $W/c.yaml --device cuda"
	export MAMBAKIT_NCCL_BUCKET_MB=0.05
	{
		timeout 120 $M train $targs --steps 40 --out "$W/A"
		el "A done"
		timeout 60 $M train $targs --steps 20 --out "$W/B" --gpus "$N"
		echo "B exit $?"
		timeout 60 $M train --resume "$W/B" --steps 40 --device cuda
		timeout 60 $M train $targs --steps 20 --out "$W/C"
		timeout 60 $M train --resume "$W/C" --steps 40 --device cuda --gpus "$N"
		echo "C exit $?"
		ls "$W/B/checkpoints" "$W/C/checkpoints"
	} >"$OUT/runs.log" 2>&1
	unset MAMBAKIT_NCCL_BUCKET_MB
	el "curves: $(grep -cE '^step ' "$OUT/runs.log") progress lines; $(grep -E 'exit|data-parallel|mambakit train:' "$OUT/runs.log" | tr '\n' ' ' | cut -c1-400)"
	python3 - "$W" "$OUT/curves.tsv" <<'PY' | tee "$OUT/curves.txt"
import json, sys
w, out = sys.argv[1], sys.argv[2]
def losses(run):
    d = {}
    try:
        for line in open(f"{w}/{run}/metrics.jsonl"):
            m = json.loads(line)
            d[m["step"]] = m["loss"]
    except OSError:
        pass
    return d
a, b, c = losses("A"), losses("B"), losses("C")
with open(out, "w") as f:
    f.write("step\tA_1gpu\tB\tC\n")
    for s in sorted(a):
        f.write(f"{s}\t{a[s]:.7f}\t{b.get(s, float('nan')):.7f}\t{c.get(s, float('nan')):.7f}\n")
def worst(x, steps):
    ds = [(abs(x[s] - a[s]), abs(x[s] - a[s]) / abs(a[s]), s) for s in steps if s in x and s in a]
    return max(ds) if ds else None
for name, x, lo, hi, how in [("B", b, 1, 20, "N GPUs"), ("B", b, 21, 40, "resumed on 1 GPU"),
                             ("C", c, 1, 20, "1 GPU"), ("C", c, 21, 40, "resumed on N GPUs")]:
    r = worst(x, range(lo, hi + 1))
    n = sum(1 for s in range(lo, hi + 1) if s in x)
    if r:
        print(f"CURVE {name} steps {lo}-{hi} ({how}, {n} steps): largest |loss - A| {r[0]:.3e} (relative {r[1]:.2e}) at step {r[2]}")
    else:
        print(f"CURVE {name} steps {lo}-{hi} ({how}): no steps")
PY
	# (the CURVE lines are also in curves.txt)

	# 3. Throughput: the mamba-130m layer stack (d_model 768, 24 layers,
	# d_state 16; the text modality's byte vocabulary) at 8 × 2048 tokens
	# per GPU; median tokens/s of steps 3.. from metrics.jsonl.
	printf 'd_model: 768\nlayers: 24\nd_state: 16\nseq_len: 2048\neval_tokens: 512\nsample_tokens: 0\nbaseline_order: -1\nlog_every: 1\nkeep_last: 1\n' >"$W/big.yaml"
	S=${SPEED_STEPS:-10}
	speed() { # mode gpus
		local flag="" dir="$W/speed-$1-$2"
		[ "$1" = tf32 ] && flag=--tf32
		timeout 75 $M train --modality text --config "$W/big.yaml" --batch $((8 * $2)) --steps "$S" --eval-every 100000 --save-every 100000 \
			--out "$dir" --device cuda $flag --gpus "$2" >"$OUT/speed-$1-$2.log" 2>&1
		local rc=$?
		python3 -c '
import json, statistics, sys
t = [json.loads(l)["tokens_per_s"] for l in open(sys.argv[1])][2:]
print(f"{statistics.median(t):.0f}" if t else "nan")' "$dir/metrics.jsonl" 2>/dev/null || echo nan
		rm -rf "$dir/checkpoints"
		return $rc
	}
	modes="tf32"
	[ "${SKIP_FP32:-0}" = 1 ] || modes="tf32 fp32"
	printf 'mode\tgpus\ttokens_per_s\n' >"$OUT/speed.tsv"
	for mode in $modes; do
		for g in 1 "$N"; do
			tps=$(speed "$mode" "$g")
			printf '%s\t%s\t%s\n' "$mode" "$g" "$tps" >>"$OUT/speed.tsv"
			el "speed $mode $g GPU(s): $tps tokens/s"
		done
	done

	# 4. A rank killed mid-run: the job stops with one clear line, and
	# rank 0's last checkpoint resumes.
	{
		$M train $targs --steps 100000 --save-every 10 --eval-every 100000 --out "$W/F" --gpus "$N" &
		L=$!
		(sleep 120 && kill "$L") 2>/dev/null &
		G=$!
		for i in $(seq 1 600); do
			[ -n "$(ls "$W/F/checkpoints" 2>/dev/null)" ] && break
			sleep 0.1
		done
		sleep 1
		for p in $(pgrep -P $L); do
			if tr '\0' '\n' <"/proc/$p/environ" | grep -qx 'MAMBAKIT_RANK=1'; then
				echo "killing rank 1 (pid $p) with SIGKILL"
				kill -9 "$p"
			fi
		done
		wait $L
		echo "launcher exit $?"
		kill "$G" 2>/dev/null
		ls "$W/F/checkpoints"
		last=$(ls "$W/F/checkpoints" | tail -1)
		n=$((10#${last#step-}))
		timeout 60 $M train --resume "$W/F" --steps $((n + 2)) --device cuda
		echo "resume exit $?"
	} >"$OUT/fail.log" 2>&1
	el "rank killed: $(grep -E 'killing|launcher exit|mambakit train:|resume exit|^done' "$OUT/fail.log" | tr '\n' ' ' | cut -c1-500)"

	echo "== summary =="
	grep -E '^(ok|FAIL|--- )' "$OUT/nccl.log" | head -3
	cat "$OUT/curves.txt"
	column -t "$OUT/speed.tsv" 2>/dev/null || cat "$OUT/speed.tsv"
	awk -F'\t' 'NR > 1 { t[$1 "-" $2] = $3; g[$2] = 1 } END { for (k in t) { split(k, a, "-"); if (a[2] != 1 && t[a[1] "-1"] > 0) printf "%s: %s GPUs / 1 GPU = %.2fx\n", a[1], a[2], t[k] / t[a[1] "-1"] } }' "$OUT/speed.tsv"
	grep -E 'launcher exit|mambakit train:|resume exit' "$OUT/fail.log" | head -5
	el "end"
	rm -rf "$W"
	;;
*)
	echo "usage: $0 build | device" >&2
	exit 2
	;;
esac
