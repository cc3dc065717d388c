#!/usr/bin/env bash
# Train one model per modality on the real corpora, each pinned to 2 CPUs of distinct physical cores,
# about TRAIN_S seconds of training each (steps from a speed probe on the same CPUs); docs/results.md.
#   MK=path/to/mambakit DATA=../shared/data TRAIN_S=440 scripts/real-data.sh   (run it in an empty directory)
# STEPS="dna=445 audio=403" fixes those modalities' steps instead of probing (to repeat a run exactly);
# ONLY="dna audio" runs only those.
# It needs 6 free cores to run the three at once; with fewer, run the lines of the run calls one by one.
set -u
MK=${MK:-mambakit}; DATA=${DATA:-../shared/data}
TRAIN_S=${TRAIN_S:-450}
lscpu | grep -E "Model name|^CPU\(s\)|Thread\(s\)|Core\(s\)|Socket"
# Two CPUs on distinct cores for each job.
mapfile -t CPUS < <(lscpu -p=CPU,CORE | grep -v '^#' | sort -t, -k2,2n -u | cut -d, -f1)
echo "cpus on distinct cores: ${CPUS[*]}"
pair() { echo "${CPUS[$((2*$1))]},${CPUS[$((2*$1+1))]}"; }
export GOMAXPROCS=2
run() { # job modality data dmodel layers seqlen batch lr extra...
  local job=$1 mod=$2 data=$3 d=$4 l=$5 L=$6 B=$7 lr=$8; shift 8
  local cpus; cpus=$(pair "$job")
  local vocab=257; [ "$mod" = dna ] && vocab=12
  case " ${ONLY:-dna text audio} " in *" $mod "*) ;; *) return ;; esac
  local fixed; fixed=$(tr ' ' '\n' <<<"${STEPS:-}" | sed -n "s/^$mod=//p")
  local tps; tps=$(taskset -c "$cpus" "$MK" bench train --d-model "$d" --layers "$l" --vocab "$vocab" --batch "$B" --seq-len "$L" --steps 2 --threads 2 | tail -1 | sed 's/tokens_per_s=\([0-9.]*\).*/\1/')
  local steps; steps=${fixed:-$(python3 -c "print(max(20, int($tps*$TRAIN_S/($B*$L))))")}
  echo "$mod on cpus $cpus: probe $tps tokens/s -> $steps steps"
  cat > "$mod.yaml" <<Y
d_model: $d
layers: $l
seq_len: $L
batch: $B
lr: $lr
steps: $steps
eval_every: $(( steps / 8 > 0 ? steps / 8 : 1 ))
save_every: $steps
eval_tokens: 131072
keep_last: 1
threads: 2
Y
  taskset -c "$cpus" "$MK" train --modality "$mod" --data "$data" --out "runs/$mod" --config "$mod.yaml" "$@" > "runs-$mod.log" 2>&1
  echo "$mod: $(grep -E '^done' runs-$mod.log)"
}
mkdir -p runs
run 0 dna "$DATA/dna/ecoli_536.fna.gz" 128 4 1024 8 2e-3 &
run 1 text "$DATA/text/brown.txt.gz" 192 4 256 16 3e-3 &
run 2 audio "$DATA/audio/spoken-digits" 128 4 2048 4 2e-3 &
wait
for m in ${ONLY:-dna text audio}; do
  grep -E "baseline|val|done" "runs-$m.log" | tail -12
done
