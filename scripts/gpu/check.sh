#!/usr/bin/env bash
# check.sh: build the GPU test binary and mambakit here, run them on the GPU
# machine, print a table of every kernel against the CPU kernels and the
# scan benchmark.
#
#   scripts/gpu/check.sh build    # here: CGO_ENABLED=0 builds into .gpu/
#   scripts/gpu/check.sh device   # on the GPU machine, from the repo root
#   scripts/gpu/check.sh model    # on the GPU machine: the backbone on the GPU
#                                 # (cudamodel tests against the CPU model, the
#                                 # new kernels, bench train fp32 and TF32)
#   scripts/gpu/check.sh generate # on the GPU machine: the recurrent step
#                                 # (tests against the CPU Step, greedy and
#                                 # sampled generate and eval against the
#                                 # CPU, bench generate --device cuda)
#   scripts/gpu/check.sh table F  # print a report.tsv as a table
#
# With the device tool: run "bash scripts/gpu/check.sh device" with carry
# [".gpu"]; logs go to $OUT (report.tsv, resources.tsv, test.log,
# bench.txt, torch.txt, env.txt). Extra bench flags: $BENCH_ARGS;
# SKIP_TORCH=1 skips the PyTorch comparison, SKIP_BENCH=1 the benchmark,
# NCU=1 adds an ncu profile of the scan kernels (ncu.txt).
set -u
cd "$(dirname "$0")/../.."

table() {
	awk -F'\t' 'BEGIN { printf "%-26s %-36s %10s %6s %s\n", "kernel", "shape", "rel err", "tol", "ok" }
		{ printf "%-26s %-36s %10s %6s %s\n", $1, $2, $3, $4, $5; n++; if ($5 != "pass") bad++ }
		END { printf "%d checks, %d failed\n", n, bad + 0 }' "$1"
}

case "${1:-}" in
build)
	set -e
	mkdir -p .gpu
	grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/cuda.test ./framework/cuda
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/cudakernels.test ./framework/cudakernels
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/cudamodel.test ./framework/cudamodel
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -ldflags="-s -w" -o .gpu/train.test ./framework/train
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -ldflags="-s -w" -o .gpu/mambakit ./cmd/mambakit
	ls -la .gpu
	;;
device)
	OUT=${OUT:-/tmp/mambakit-gpu}
	mkdir -p "$OUT"
	{
		nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem --format=csv
		echo "nvcc: $(command -v nvcc) $(nvcc --version 2>/dev/null | tail -1)"
		ldconfig -p | grep -E 'libcuda\.so|nvrtc|cublas' | head -20
		ls -d /usr/local/cuda*/lib64 /usr/local/nvidia/lib64 2>/dev/null
		python3 -c 'import nvidia, os; [print(os.path.join(p, d, "lib")) for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))]' 2>/dev/null | head -20
	} >"$OUT/env.txt" 2>&1
	head -3 "$OUT/env.txt"
	export MAMBAKIT_CUDA_REPORT="$OUT/report.tsv" MAMBAKIT_CUDA_RESOURCES="$OUT/resources.tsv"
	rm -f "$MAMBAKIT_CUDA_REPORT"
	t0=$(date +%s)
	.gpu/cuda.test -test.v -test.count=1 -test.timeout 100s >"$OUT/test.log" 2>&1
	rc=$?
	(cd framework/cudakernels 2>/dev/null; "$OLDPWD/.gpu/cudakernels.test" -test.v -test.count=1 -test.timeout 400s) >>"$OUT/test.log" 2>&1
	rc=$((rc | $?))
	echo "test binary: exit $rc in $(($(date +%s) - t0)) s"
	grep -E '^(--- FAIL|FAIL|panic|ok|PASS)|cuda: ' "$OUT/test.log" | grep -v '^    ' | head -20
	grep -E 'error|Error' "$OUT/test.log" | grep -v 'rel err' | head -20
	echo "== resources (file, defines, kernel, regs, local bytes, static shared, compile) =="
	[ -f "$OUT/resources.tsv" ] && awk -F"\t" '{ printf "%-14s %-34s %-15s %4s %5s %6s %s\n", $1, $2, $3, $4, $5, $6, $7 }' "$OUT/resources.tsv"
	echo "== kernels against the CPU kernels =="
	[ -f "$MAMBAKIT_CUDA_REPORT" ] && table "$MAMBAKIT_CUDA_REPORT"
	if [ "${SKIP_TORCH:-0}" != 1 ]; then
		echo "== PyTorch scans =="
		PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu/torch_scan.py >"$OUT/torch.txt" 2>&1
		tail -12 "$OUT/torch.txt"
	fi
	if [ "${SKIP_BENCH:-0}" != 1 ]; then
		echo "== bench scan --device cuda =="
		timeout 300 .gpu/mambakit bench scan --device cuda ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.txt"
	fi
	if [ "${NCU:-0}" = 1 ] && command -v ncu >/dev/null; then
		echo "== ncu (scan kernels, L 2048) =="
		timeout 240 ncu --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats \
			--section WarpStateStats --section SchedulerStats -k regex:scan_ \
			.gpu/mambakit bench scan --device cuda --seq-len 2048 --reps 1 --warmup 0 --gemm=false >"$OUT/ncu.txt" 2>&1
		grep -E '^  [a-z_]+\(|Duration|Registers Per|Achieved Occupancy|Theoretical Occupancy|Memory Throughput  |Compute \(SM\) Throughput|Issue Slots Busy|Warp Cycles Per Issued|Block Limit (Registers|Shared)' "$OUT/ncu.txt" | head -90
	fi
	exit $rc
	;;
model)
	# The backbone on the GPU: logs model.log, kernels.log, train-test.log,
	# cli.txt (mambakit train --device cuda against the CPU, and a resume),
	# train-fp32.txt, train-tf32.txt, report.tsv under $OUT. Extra bench
	# flags: $BENCH_ARGS; SKIP_BENCH=1 skips the benchmark, SKIP_CLI=1 the
	# training runs.
	OUT=${OUT:-/tmp/mambakit-gpu}
	mkdir -p "$OUT"
	nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm --format=csv,noheader
	export MAMBAKIT_CUDA_REPORT="$OUT/report.tsv"
	rm -f "$MAMBAKIT_CUDA_REPORT"
	t0=$(date +%s)
	.gpu/cuda.test -test.v -test.count=1 -test.run 'Embed|ModelElementwise|CrossEntropy|AdamW' -test.timeout 200s >"$OUT/kernels.log" 2>&1
	rc1=$?
	(cd framework/cudamodel && ../../.gpu/cudamodel.test -test.v -test.count=1 -test.timeout 300s) >"$OUT/model.log" 2>&1
	rc2=$?
	(cd framework/train && ../../.gpu/train.test -test.v -test.count=1 -test.run 'CUDA|UnknownDevice' -test.timeout 200s) >"$OUT/train-test.log" 2>&1
	rc3=$?
	echo "kernel tests: exit $rc1; cudamodel tests: exit $rc2; train tests: exit $rc3; $(($(date +%s) - t0)) s"
	grep -hE '^(--- FAIL|FAIL|panic)|cuda: |Error|error' "$OUT/kernels.log" "$OUT/model.log" "$OUT/train-test.log" | grep -v 'rel err' | head -30
	grep -E 'device_test' "$OUT/train-test.log"
	grep -E 'step 30|largest|worst gradient' "$OUT/model.log" | head -20
	[ -f "$MAMBAKIT_CUDA_REPORT" ] && table "$MAMBAKIT_CUDA_REPORT"
	if [ "${SKIP_CLI:-0}" != 1 ]; then
		echo "== mambakit train --device cuda (text, bundled sample) =="
		runs=$(mktemp -d)
		printf 'schedule_steps: 100\n' >"$runs/sched.yaml" # the same schedule for the run cut at 60 and resumed
		targs="--modality text --preset small --steps 100 --eval-every 50 --save-every 50 --seed 3 --config $runs/sched.yaml"
		{
			.gpu/mambakit train $targs --out "$runs/cpu"
			.gpu/mambakit train $targs --steps 60 --out "$runs/gpu" --device cuda
			.gpu/mambakit train --resume "$runs/gpu" --steps 100 --device cuda
			.gpu/mambakit train --modality text --preset base --seq-len 1024 --batch 16 --steps 300 --eval-every 100 --save-every 300 --out "$runs/base" --device cuda --tf32
			ls "$runs/gpu/checkpoints" "$runs/base/checkpoints"
			for r in cpu gpu; do echo "$r: $(grep -o '"step":[0-9]*,"loss":[0-9.]*' "$runs/$r/metrics.jsonl" | sed -n '1p;60p;61p;100p' | tr '\n' ' ') val: $(grep -o '"val_loss":[0-9.]*' "$runs/$r/metrics.jsonl" | tr '\n' ' ')"; done
		} >"$OUT/cli.txt" 2>&1
		grep -E '^(done|stopped|cpu:|gpu:)|^step (60|100|300)/|mambakit train:|panic' "$OUT/cli.txt"
		rm -rf "$runs"
	fi
	if [ "${SKIP_BENCH:-0}" != 1 ]; then
		for mode in fp32 tf32; do
			flag=""
			[ $mode = tf32 ] && flag="--tf32"
			echo "== bench train --device cuda $flag =="
			timeout 200 .gpu/mambakit bench train --device cuda $flag ${BENCH_ARGS:-} >"$OUT/train-$mode.txt" 2>&1
			grep -vE '^step ' "$OUT/train-$mode.txt" | tail -8
		done
	fi
	[ $rc1 = 0 ] && [ $rc2 = 0 ] && [ $rc3 = 0 ]
	;;
generate)
	# Generation on the GPU: logs step-kernels.log, step-model.log,
	# cli.txt, bench-generate.txt, report.tsv under $OUT. SKIP_CLI=1 skips
	# the command-line runs, SKIP_BENCH=1 the benchmark; MODEL_RUN is the
	# cudamodel tests' -test.run pattern (default Step|Generate|Carry|Evaluate).
	OUT=${OUT:-/tmp/mambakit-gpu}
	mkdir -p "$OUT"
	nvidia-smi --query-gpu=name,driver_version,memory.used,clocks.sm,clocks.mem --format=csv,noheader
	export MAMBAKIT_CUDA_REPORT="$OUT/report.tsv"
	rm -f "$MAMBAKIT_CUDA_REPORT"
	t0=$(date +%s)
	.gpu/cuda.test -test.v -test.count=1 -test.run 'Step' -test.timeout 150s >"$OUT/step-kernels.log" 2>&1
	rc1=$?
	(cd framework/cudamodel && ../../.gpu/cudamodel.test -test.v -test.count=1 -test.run "${MODEL_RUN:-Step|Generate|Carry|Evaluate}" -test.timeout 200s) >"$OUT/step-model.log" 2>&1
	rc2=$?
	echo "step kernel tests: exit $rc1; cudamodel step tests: exit $rc2; $(($(date +%s) - t0)) s"
	grep -hE '^(--- FAIL|FAIL|panic)|cuda: |graph|Error|error' "$OUT/step-kernels.log" "$OUT/step-model.log" | grep -v 'rel err' | head -30
	grep -hE 'resources|task (true|false)' "$OUT/step-kernels.log" "$OUT/step-model.log" | sed 's/^ *//' | head -30
	echo "greedy continuations equal to the fixtures': $(grep -c 'tokens identical' "$OUT/step-model.log")"
	[ -f "$MAMBAKIT_CUDA_REPORT" ] && table "$MAMBAKIT_CUDA_REPORT" | awk '/checks,/ || $NF != "pass"' | tail -15
	[ -f "$MAMBAKIT_CUDA_REPORT" ] && awk -F'\t' '{ k = $1; if (!(k in w) || $3 + 0 > w[k] + 0) w[k] = $3 } END { for (k in w) printf "  worst %-44s %s\n", k, w[k] }' "$MAMBAKIT_CUDA_REPORT" | sort
	if [ "${SKIP_CLI:-0}" != 1 ]; then
		echo "== mambakit generate / eval --device cuda against the CPU (text, bundled sample) =="
		runs=$(mktemp -d)
		{
			.gpu/mambakit train --modality text --preset small --steps 30 --eval-every 30 --save-every 30 --seed 3 --out "$runs/r"
			for dev in cpu cuda; do
				.gpu/mambakit generate --checkpoint "$runs/r" --prompt "The " --tokens 300 --temperature 0 --device $dev >"$runs/greedy-$dev.txt"
				.gpu/mambakit generate --checkpoint "$runs/r" --prompt "The " --tokens 300 --temperature 0.8 --top-k 20 --seed 2 --device $dev >"$runs/sampled-$dev.txt"
				echo "eval $dev: $(.gpu/mambakit eval --checkpoint "$runs/r" --data cmd/mambakit/samples/text.txt.gz --device $dev | tr '\n' ' ')"
			done
			cmp "$runs/greedy-cpu.txt" "$runs/greedy-cuda.txt" && echo "greedy text identical ($(wc -c <"$runs/greedy-cpu.txt") bytes)"
			cmp "$runs/sampled-cpu.txt" "$runs/sampled-cuda.txt" && echo "sampled text identical ($(wc -c <"$runs/sampled-cpu.txt") bytes)"
		} >"$OUT/cli.txt" 2>&1
		grep -E '^(eval|greedy|sampled|generated)|differ|mambakit|panic' "$OUT/cli.txt"
		rm -rf "$runs"
	fi
	if [ "${SKIP_BENCH:-0}" != 1 ]; then
		echo "== bench generate --device cuda =="
		timeout 150 .gpu/mambakit bench generate --device cuda ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench-generate.txt"
	fi
	[ $rc1 = 0 ] && [ $rc2 = 0 ]
	;;
table)
	table "$2"
	;;
*)
	echo "usage: $0 build | device | model | generate | table FILE" >&2
	exit 2
	;;
esac
