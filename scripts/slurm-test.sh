#!/usr/bin/env bash
# slurm-test.sh: `mambakit compare --slurm` against a real Slurm (docs/compare.md,
# "On Slurm"). As root on a Debian machine: installs slurm-wlm and munge when
# missing, writes a slurm.conf for one node (this host), starts munged,
# slurmctld and slurmd, trains run 1 of a tiny CPU spec (4 runs of 20 steps)
# here, submits `compare --slurm` (an array of the other 3 and the report's
# job), waits for both, checks that every job completed and that the report
# lists every run at its last step, resubmits (every run finished: no job);
# stops a long run's task with SIGINT to its batch shell, as --signal does at
# the time limit, and checks that it saved a checkpoint and that resubmitting
# resumes it; then checks that `srun -n2 mambakit train` places both tasks in
# a job of 2 ranks from Slurm's variables (framework/distributed). On any
# exit it cancels its jobs and stops the daemons it started. About 25 s on 2
# cores once the packages are installed.
#
#   scripts/slurm-test.sh            # KEEP=1 keeps the work directory
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
[ "$(id -u)" = 0 ] || { echo "slurm-test.sh: run it as root (it starts munged, slurmctld and slurmd)" >&2; exit 1; }

if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
	echo "== installing slurm-wlm and munge"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || { echo "slurm-test.sh: apt-get install slurm-wlm munge failed" >&2; exit 1; }
fi

work=$(mktemp -d /tmp/slurm-test.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	rc=$?
	# Jobs still queued or running first, while the daemons can end them.
	if [ "${#pids[@]}" = 3 ] && squeue -h 2>/dev/null | grep -q .; then
		scancel --quiet --user=root 2>/dev/null || true
		for _ in $(seq 30); do squeue -h 2>/dev/null | grep -q . || break; sleep 0.5; done
	fi
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	# A job step's slurmstepd outlives slurmd: end those of this test (their
	# files are under $work).
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = slurmstepd ] || continue
		if ls -l "$d/fd" "$d/cwd" 2>/dev/null | grep -q "$work"; then
			kill -9 "${d#/proc/}" 2>/dev/null || true
		fi
	done
	if [ "$rc" != 0 ]; then
		for f in "$work"/slurmctld.log "$work"/slurmd.log; do
			[ -f "$f" ] && { echo "--- tail of $f"; tail -20 "$f"; }
		done
		for f in "$work"/out/slurm/*.out; do
			[ -f "$f" ] && { echo "--- tail of $f"; tail -20 "$f"; }
		done
	fi
	if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building mambakit"
CGO_ENABLED=0 go build -o "$work/bin/mambakit" ./cmd/mambakit

echo "== starting munged, slurmctld, slurmd (one node: $(hostname -s))"
# munge: its own key and socket, so a munged already running is left alone.
mkdir -p "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$work/munge"
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.sock" \
	--pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed"
for _ in $(seq 50); do [ -s "$work/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/munged.pid")")

host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
mkdir -p "$work/state" "$work/spool"
cat >"$work/slurm.conf" <<EOF
ClusterName=mambakit-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=600
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -i -f "$SLURM_CONF"
for _ in $(seq 100); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for i in $(seq 60); do
	sinfo -h -o %t 2>/dev/null | grep -qx idle && break
	[ "$i" = 60 ] && { echo "slurm-test.sh: the node did not become idle within 30s: $(sinfo 2>&1)" >&2; exit 1; }
	sleep 0.5
done
sinfo

echo "== compare --slurm: a tiny CPU spec of 4 runs, run 1 trained here first"
cd "$work"
cat >tiny.yaml <<'SPEC'
budget: {preset: tiny, seq_len: 64, batch: 2, steps: 20, eval_every: 10, save_every: 20, eval_tokens: 4096, sample_tokens: 0, log_every: 10}
seeds: [1, 2]
modalities: [{name: dna}]
variants: [{name: S6}, {name: LTI, nonselective: [delta, B, C]}]
SPEC
mk=$work/bin/mambakit
"$mk" compare tiny.yaml --out out --only-run 1 >only-run.log
"$mk" compare tiny.yaml --out out --slurm --time 10 --cpus-per-run 1 | tee submit.log
grep -q "tasks 0,2-3" submit.log || { echo "slurm-test.sh: want the array of the unfinished runs 0,2-3" >&2; exit 1; }
array=$(sed -n 's/.*as Slurm array job \([0-9]*\) .*/\1/p' submit.log)
report=$(sed -n 's/^job \([0-9]*\) writes .*/\1/p' submit.log)
[ -n "$array" ] && [ -n "$report" ] || { echo "slurm-test.sh: no job ids in compare's output" >&2; exit 1; }

t0=$SECONDS
limit=${SLURM_TEST_TIMEOUT:-240}
while squeue -h -j "$array,$report" 2>/dev/null | grep -q .; do
	if ((SECONDS - t0 > limit)); then
		echo "slurm-test.sh: jobs $array and $report still queued or running after ${limit}s:" >&2
		squeue >&2
		exit 1
	fi
	sleep 1
done
echo "the array and the report's job ended after $((SECONDS - t0))s"
states=$(for id in "$array" "$report"; do scontrol -o show job "$id"; done | grep -o 'JobState=[A-Z_]*' | sort | uniq -c)
echo "$states"
if echo "$states" | grep -v -q 'JobState=COMPLETED'; then
	echo "slurm-test.sh: a job did not complete" >&2
	exit 1
fi
[ -f out/report.md ] || { echo "slurm-test.sh: no out/report.md" >&2; exit 1; }
for run in dna/S6/seed-1 dna/S6/seed-2 dna/LTI/seed-1 dna/LTI/seed-2; do
	grep -q "| 20/20 | .*\[$run\]" out/report.md || { echo "slurm-test.sh: the report does not list $run at step 20/20" >&2; exit 1; }
done
grep -q "done earlier" out/slurm/*_*.out && { echo "slurm-test.sh: a task found its run finished: the array held a finished run" >&2; exit 1; }

echo "== compare --slurm again: every run finished, nothing submitted"
jobs_before=$(scontrol -o show jobs | grep -c JobId=)
"$mk" compare tiny.yaml --out out --slurm | tee resubmit.log
grep -q "all 4 runs in out are finished: nothing to submit" resubmit.log
[ "$(scontrol -o show jobs | grep -c JobId=)" = "$jobs_before" ] || { echo "slurm-test.sh: a job was submitted for finished runs" >&2; exit 1; }

echo "== a task stopped as at its time limit (SIGINT to the batch shell) saves a checkpoint; resubmitting resumes it"
cat >long.yaml <<'SPEC'
budget: {preset: tiny, seq_len: 64, batch: 2, steps: 1000000, eval_every: 1000000, save_every: 1000000, eval_tokens: 4096, sample_tokens: 0, log_every: 20}
modalities: [{name: dna}]
SPEC
wait_for() { # FILE PATTERN: wait until FILE has a line matching PATTERN (60 s at most)
	for _ in $(seq 120); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.5; done
	echo "slurm-test.sh: no line matching '$2' in $1 within 60s" >&2
	exit 1
}
"$mk" compare long.yaml --out long --slurm | tee long1.log
id=$(sed -n 's/.*as Slurm array job \([0-9]*\) .*/\1/p' long1.log)
wait_for "long/slurm/${id}_0.out" "step 100/"
scancel --batch --signal=INT "${id}_0"
wait_for "long/slurm/${id}_0.out" "stopped at step"
grep "stopped at step" "long/slurm/${id}_0.out"
while squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep 0.5; done
"$mk" compare long.yaml --out long --slurm | tee long2.log
id2=$(sed -n 's/.*as Slurm array job \([0-9]*\) .*/\1/p' long2.log)
wait_for "long/slurm/${id2}_0.out" "resuming from step"
grep "resuming from step" "long/slurm/${id2}_0.out"
report2=$(sed -n 's/^job \([0-9]*\) writes .*/\1/p' long2.log)
scancel "$id2" "$report2" "$(sed -n 's/^job \([0-9]*\) writes .*/\1/p' long1.log)"

echo "== srun -n2 mambakit train: each task reads its place from Slurm's variables"
if srun -n2 -t 2 "$mk" train --modality dna --out "$work/srun" --steps 2 >srun.log 2>&1; then
	echo "slurm-test.sh: 2 ranks trained on the CPU; want them refused (2 ranks need the cuda device)" >&2
	cat srun.log >&2
	exit 1
fi
if [ "$(grep -c 'of a job of 2 (SLURM_PROCID is set): training on 2 GPUs needs --device cuda' srun.log)" != 2 ]; then
	echo "slurm-test.sh: want both tasks to see a job of 2 ranks:" >&2
	cat srun.log >&2
	exit 1
fi
echo "ok: both tasks placed in a 2-rank job (and refused on the CPU)"
echo "PASS (${SECONDS}s)"
