#!/usr/bin/env bash
# Decode speed side by side: llama2.c run.c (gcc -O3 and -Ofast, -march=native; -fopenmp at 2 threads),
# llama2.java (mukel/llama2.java, Vector API, one JVM per run) and ours (one cold `tensorbuffer decode` process, and
# the warm median of `tensorbuffer compare`), greedy from BOS, tokens/s, medians of interleaved rounds.
#
# Models: the bundled stories260K (512 steps) and two llama2.c checkpoints with seeded random weights written by
# scripts/random-checkpoint.py: stories15M's shape (256 steps) and a grouped-query shape gqa38M (128 steps).
#
# Usage: scripts/decode-vs-llama2c.sh [-r ROUNDS] [-t "1 2"] [-m "stories260K stories15M gqa38M"] [-b OTHER_LAUNCHER] [-c]
#   -r  interleaved rounds per cell (default 3); the table shows medians
#   -c  cold columns only (llama2.java and one `decode` process of ours, and of -b's launcher): no run.c, no warm
#   -t  thread counts (default "1 2"); 1 thread pins every process to CPU 0 with taskset
#   -m  models (default all three)
#   -b  also measure another checkout's launcher (e.g. /work/baseline/tensorbuffer) as "before"
# Ours-cold: tokens/s over the same interval as llama2.java's "achieved tok/s", which starts its timer after the first
# position and divides pos - 1 by the time since: our `decode --json`'s decode_tokens_per_s (positions after the
# first, with the BOS-only prompt; "-all" columns: tokens_per_s, all positions including the first, slower cold).
# Ours-warm: `compare --warmup steady` (warm-up decodes until tokens/s stops rising, see `compare --help`), the median
# of its 3 timed decodes; one such process per round, like every other column (warm tok/s moves between processes:
# the table's figure is the median over the rounds' processes); the "before" launcher gets the same warm-up
# (`--warmup $BEFORE_WARMUP`, default steady; set e.g. BEFORE_WARMUP=10 for a launcher older than `steady`, and then
# give ours the same with OURS_WARMUP=10: the two columns are only comparable under the same warm-up).
# Sources: LLAMA2C (default /work/ext/llama2.c, or a clone of github.com/karpathy/llama2.c) and LLAMA2JAVA
# (default /work/ext/llama2.java, or a clone of github.com/mukel/llama2.java); they are built into
# target/decode-vs-llama2c/ (ignored by git), never copied into the repository.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=3; threads="1 2"; models="stories260K stories15M gqa38M"; before=""; coldonly=""
while getopts "r:t:m:b:c" o; do
  case $o in r) rounds=$OPTARG;; t) threads=$OPTARG;; m) models=$OPTARG;; b) before=$OPTARG;; c) coldonly=1;;
    *) echo "usage: $0 [-r ROUNDS] [-t THREADS] [-m MODELS] [-b LAUNCHER] [-c]" >&2; exit 2;; esac
done
LLAMA2C=${LLAMA2C:-/work/ext/llama2.c}; LLAMA2JAVA=${LLAMA2JAVA:-/work/ext/llama2.java}
[ -f "$LLAMA2C/run.c" ] || { echo "decode-vs-llama2c: no run.c in $LLAMA2C (set LLAMA2C)" >&2; exit 1; }
[ -f "$LLAMA2JAVA/Llama2.java" ] || { echo "decode-vs-llama2c: no Llama2.java in $LLAMA2JAVA (set LLAMA2JAVA)" >&2; exit 1; }
JAVA_HOME=${JAVA_HOME:-$(ls -d /usr/lib/jvm/temurin-25* 2>/dev/null | head -1)}
PY=${PYTHON:-/usr/bin/python3}
before_warmup=${BEFORE_WARMUP:-steady}; ours_warmup=${OURS_WARMUP:-steady}
w="$root/target/decode-vs-llama2c"; mkdir -p "$w"

# Builds (skipped when up to date).
for v in O3 Ofast; do
  [ "$w/run-$v" -nt "$LLAMA2C/run.c" ] || gcc -$v -march=native -o "$w/run-$v" "$LLAMA2C/run.c" -lm
  [ "$w/run-$v-omp" -nt "$LLAMA2C/run.c" ] || gcc -$v -march=native -fopenmp -o "$w/run-$v-omp" "$LLAMA2C/run.c" -lm
done
[ "$w/l2j/Llama2.class" -nt "$LLAMA2JAVA/Llama2.java" ] || "$JAVA_HOME/bin/javac" --enable-preview --release 25 \
  --add-modules jdk.incubator.vector -nowarn -d "$w/l2j" "$LLAMA2JAVA/Llama2.java" 2>/dev/null
for s in stories15M gqa38M; do
  [ -f "$w/$s.bin" ] || "$PY" "$root/scripts/random-checkpoint.py" "$w/$s.bin" --tokenizer "$w/$s-tok.bin" --shape "$s"
done

model() { case $1 in stories260K) echo "$root/models/stories260K.bin $root/models/aidreams-tok512.bin 512";;
  *) echo "$w/$1.bin $w/$1-tok.bin $([ "$1" = gqa38M ] && echo 128 || echo 256)";; esac; }
pin() { if [ "$1" = 1 ]; then echo "taskset -c 0"; fi; }
runc() { # bin model tok steps threads
  OMP_NUM_THREADS=$5 $(pin "$5") "$w/$1" "$2" -z "$3" -t 0 -n "$4" 2>&1 >/dev/null | sed -n 's/^achieved tok\/s: //p'; }
l2j() {
  $(pin "$4") "$JAVA_HOME/bin/java" --enable-preview --add-modules jdk.incubator.vector \
    -Djava.util.concurrent.ForkJoinPool.common.parallelism="$4" -cp "$w/l2j" Llama2 "$1" -z "$2" -t 0 -n "$3" \
    2>&1 >/dev/null | sed -n 's/^achieved tok\/s: //p'; }
ours_cold() { # launcher model tok steps threads -> "after-first all-positions" tokens/s
  TENSORBUFFER_CPU_THREADS=$5 OPENBLAS_NUM_THREADS=$5 $(pin "$5") "$1" decode --model "$2" --tokenizer "$3" --temperature 0 --steps "$4" --json \
    2>/dev/null | tr -d '\n ' | sed -n 's/.*"tokens_per_s":\([0-9.]*\).*"decode_tokens_per_s":\([0-9.]*\).*/\2 \1/p'; }
ours_warm() { # launcher model tok steps threads [warm-up]
  TENSORBUFFER_CPU_THREADS=$5 OPENBLAS_NUM_THREADS=$5 $(pin "$5") "$1" compare --model "$2" --steps "$4" --runs 3 --warmup "${6:-steady}" \
    --strategies proactive --json --quiet 2>/dev/null | tr -d '\n ' | sed -n 's/.*"tokens_per_s_median":\([0-9.]*\).*/\1/p'; }
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.0f", a[(NR+1)/2]; else printf "%.0f", (a[NR/2]+a[NR/2+1])/2}'; }

# One untimed launch each, so that a launcher's first-use work (build check, AOT cache) is not timed.
# (The launcher keeps one AOT cache per kernel and OpenBLAS thread count: one launch per count, with the timed runs'
# environment.)
for t in $threads; do
  TENSORBUFFER_CPU_THREADS=$t OPENBLAS_NUM_THREADS=$t "$root/tensorbuffer" --version >/dev/null 2>&1 || true
  [ -n "$before" ] && { TENSORBUFFER_CPU_THREADS=$t OPENBLAS_NUM_THREADS=$t "$before" --version >/dev/null 2>&1 || true; }
done

if [ -n "$coldonly" ]; then
  cols="llama2java ours-cold ours-cold-all"; [ -n "$before" ] && cols="$cols before-cold before-cold-all"
else
  cols="runc-O3 runc-Ofast llama2java ours-cold ours-cold-all ours-warm"
  [ -n "$before" ] && cols="$cols before-cold before-cold-all before-warm"
fi
declare -A res
for t in $threads; do for m in $models; do
  read -r bin tok steps <<<"$(model "$m")"
  sfx=""; [ "$t" -gt 1 ] && sfx="-omp"
  for r in $(seq "$rounds"); do
    if [ -z "$coldonly" ]; then
      res[$m,$t,runc-O3]+=" $(runc "run-O3$sfx" "$bin" "$tok" "$steps" "$t")"
      res[$m,$t,runc-Ofast]+=" $(runc "run-Ofast$sfx" "$bin" "$tok" "$steps" "$t")"
    fi
    res[$m,$t,llama2java]+=" $(l2j "$bin" "$tok" "$steps" "$t")"
    read -r a b <<<"$(ours_cold "$root/tensorbuffer" "$bin" "$tok" "$steps" "$t")"
    res[$m,$t,ours-cold]+=" $a"; res[$m,$t,ours-cold-all]+=" $b"
    if [ -z "$coldonly" ]; then
      res[$m,$t,ours-warm]+=" $(ours_warm "$root/tensorbuffer" "$bin" "$tok" "$steps" "$t" "$ours_warmup")"
    fi
    if [ -n "$before" ]; then
      read -r a b <<<"$(ours_cold "$before" "$bin" "$tok" "$steps" "$t")"
      res[$m,$t,before-cold]+=" $a"; res[$m,$t,before-cold-all]+=" $b"
      if [ -z "$coldonly" ]; then
        res[$m,$t,before-warm]+=" $(ours_warm "$before" "$bin" "$tok" "$steps" "$t" "$before_warmup")"
      fi
    fi
    # Each round's figures at once, so that a run cut short (a time limit) still leaves what it measured.
    echo "decode-vs-llama2c: $m, $t thread(s), round $r done:$(for c in $cols; do printf ' %s=%s' "$c" "${res[$m,$t,$c]##* }"; done)" >&2
  done
done; done

echo "machine: $(uname -m), $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); $("$JAVA_HOME/bin/java" -version 2>&1 | head -1); $(gcc --version | head -1); $(date -u +%F)"
echo "tokens/s, greedy from BOS, median of $rounds interleaved rounds (ours-cold: positions after the first, as llama2.java times them; -all: every position; ours-warm: per round one process, the median of its 3 timed decodes after --warmup $ours_warmup (steady: warm-up decodes until tokens/s stopped rising); before-warm: the same after --warmup $before_warmup)"
echo
printf '| model, steps | threads |'; for c in $cols; do printf ' %s |' "$c"; done
printf ' ours-warm / run.c -Ofast | ours-cold / llama2.java | ours-cold-all / llama2.java |%s\n' "${before:+ before-cold / llama2.java |}"
printf '|---|---:|'; for c in $cols; do printf -- '---:|'; done; printf -- '---:|---:|---:|%s\n' "${before:+---:|}"
for t in $threads; do for m in $models; do
  read -r _ _ steps <<<"$(model "$m")"
  printf '| %s, %s | %s |' "$m" "$steps" "$t"
  declare -A med=()
  for c in $cols; do med[$c]=$(echo "${res[$m,$t,$c]:-}" | median); printf ' %s |' "${med[$c]}"; done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
  printf ' %s | %s | %s |' "$(ratio "${med[ours-warm]:--}" "${med[runc-Ofast]:--}")" \
    "$(ratio "${med[ours-cold]}" "${med[llama2java]}")" "$(ratio "${med[ours-cold-all]}" "${med[llama2java]}")"
  if [ -n "$before" ]; then printf ' %s |' "$(ratio "${med[before-cold]}" "${med[llama2java]}")"; fi
  echo
done; done
