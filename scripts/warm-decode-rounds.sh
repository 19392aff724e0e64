#!/usr/bin/env bash
# Warm decode speed, interleaved: for each round, run.c -Ofast (gcc -march=native), then one `compare --warmup steady`
# process of ours (and of a "before" launcher, -b), each pinned to CPU 0 (1 thread) or on all CPUs (-t 2 with
# run.c -fopenmp). Prints every round's tokens/s (and ours' tokens per decoding-thread CPU second), then medians,
# minimum and maximum per column: the warm figure of one process moves from process to process, so one process is
# not enough (docs/benchmarks.md, issue 14, "Round 6"). Each run's *-steal is the host's steal time over that run, in
# percent of all the machine's CPU ticks (/proc/stat): on this shared virtual machine a process that ran while the
# hypervisor took CPU time from its vCPUs is slow for that reason (issue 14, "Round 10: 2-thread slow processes").
#
# Usage: scripts/warm-decode-rounds.sh [-r ROUNDS] [-t THREADS] [-m stories260K|stories15M|gqa38M] [-b LAUNCHER]
# Needs target/decode-vs-llama2c/ from scripts/decode-vs-llama2c.sh (run.c builds, the random-weight checkpoints).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=5; t=1; m=stories260K; before=""
while getopts "r:t:m:b:" o; do
  case $o in r) rounds=$OPTARG;; t) t=$OPTARG;; m) m=$OPTARG;; b) before=$OPTARG;;
    *) echo "usage: $0 [-r ROUNDS] [-t THREADS] [-m MODEL] [-b LAUNCHER]" >&2; exit 2;; esac
done
w="$root/target/decode-vs-llama2c"
case $m in stories260K) bin="$root/models/stories260K.bin"; tok="$root/models/aidreams-tok512.bin"; steps=512;;
  gqa38M) bin="$w/gqa38M.bin"; tok="$w/gqa38M-tok.bin"; steps=128;;
  *) bin="$w/$m.bin"; tok="$w/$m-tok.bin"; steps=256;; esac
runc="$w/run-Ofast"; [ "$t" -gt 1 ] && runc="$w/run-Ofast-omp"
[ -x "$runc" ] && [ -f "$bin" ] || { echo "warm-decode-rounds: run scripts/decode-vs-llama2c.sh once first" >&2; exit 1; }
pin=(); [ "$t" = 1 ] && pin=(taskset -c 0)
warm() { # launcher -> "tok/s tok/CPU-s warmup-rounds"
  TENSORBUFFER_CPU_THREADS=$t OPENBLAS_NUM_THREADS=$t "${pin[@]}" "$1" compare --model "$bin" --steps "$steps" \
    --runs 3 --warmup steady --strategies proactive --json --quiet 2>/dev/null | tr -d '\n ' |
    sed -n 's/.*"warmup_rounds":\([0-9]*\).*"tokens_per_s_median":\([0-9.]*\).*"tokens_per_cpu_s_median":\([0-9.]*\).*/\2 \3 \1/p'; }
# Steal ticks in percent of all ticks between two copies of /proc/stat's "cpu" line ("cpu user nice system idle
# iowait irq softirq steal ..."; field 9 is steal).
steal() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); t = 0
  for (i = 2; i <= n; i++) t += y[i] - x[i]; printf "%.1f", (t > 0 ? 100 * (y[9] - x[9]) / t : 0) }'; }
cpuline() { head -1 /proc/stat; }
cols="runc-Ofast runc-steal ours ours-cpu ours-steal"; [ -n "$before" ] && cols="$cols before before-cpu before-steal"
declare -A res
for r in $(seq "$rounds"); do
  s0=$(cpuline)
  res[runc-Ofast]+=" $(OMP_NUM_THREADS=$t "${pin[@]}" "$runc" "$bin" -z "$tok" -t 0 -n "$steps" 2>&1 >/dev/null |
    sed -n 's/^achieved tok\/s: //p')"
  s1=$(cpuline); st=$(steal "$s0" "$s1"); res[runc-steal]+=" $st"
  read -r a b c <<<"$(warm "$root/tensorbuffer")"; res[ours]+=" $a"; res[ours-cpu]+=" $b"; wr=$c
  s2=$(cpuline); st2=$(steal "$s1" "$s2"); res[ours-steal]+=" $st2"
  line="round $r: runc-Ofast=${res[runc-Ofast]##* } (steal $st%) ours=$a ours-cpu=$b (warm-up rounds $wr, steal $st2%)"
  if [ -n "$before" ]; then
    read -r a b c <<<"$(warm "$before")"; res[before]+=" $a"; res[before-cpu]+=" $b"
    s3=$(cpuline); st3=$(steal "$s2" "$s3"); res[before-steal]+=" $st3"
    line="$line before=$a before-cpu=$b (warm-up rounds $c, steal $st3%)"
  fi
  echo "$line"
done
stat() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk -v f="$1" '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf f " (" f "-" f ")", m, a[1], a[NR]}'; }
echo "$m, $t thread(s), $steps steps, $rounds interleaved rounds; median (min-max) tokens/s; *-cpu: per CPU second of the decoding thread; *-steal: host steal, % of CPU ticks"
for c in $cols; do f=%.0f; [[ $c == *-steal ]] && f=%.1f; printf '%s: %s\n' "$c" "$(echo "${res[$c]}" | stat "$f")"; done
