#!/usr/bin/env bash
# Checks that `tensorbuffer decode --device vulkan` gives the CPU device's token ids on both bundled llama2.c
# checkpoints, for every allocation strategy, greedy and sampled. Prints one line per run and a closing
# "N passed, N failed" line; exits 1 if any run differs. Usage: device-metal/scripts/vulkan-decode-check.sh [DEVICE]
# (DEVICE defaults to vulkan; use metal on a Mac). Needs a Vulkan driver (lavapipe: mesa-vulkan-drivers).
set -uo pipefail
cd "$(dirname "$0")/../.."
dev=${1:-vulkan}
ids() { ./tensorbuffer decode "$@" --print-ids 2>/dev/null | grep -v '^achieved' | tr -s ' ' '\n' | grep -E '^[0-9]+$'; }
pass=0
fail=0
for spec in stories260K:256 aidreams260K:128; do
  model=${spec%:*}
  steps=${spec#*:}
  for temp in 0 0.8; do
    ref=$(ids --model "models/$model.bin" --device cpu --steps "$steps" --seed 42 --temperature "$temp")
    if [ -z "$ref" ]; then echo "FAIL $model: the CPU run printed no ids"; fail=$((fail + 1)); continue; fi
    for strategy in none reactive proactive; do
      got=$(ids --model "models/$model.bin" --device "$dev" --steps "$steps" --seed 42 --temperature "$temp" \
            --strategy "$strategy")
      n=$(printf '%s\n' "$got" | grep -c .)
      if [ "$got" == "$ref" ]; then
        echo "ok   $model temperature=$temp strategy=$strategy: $n ids equal the CPU's"
        pass=$((pass + 1))
      else
        first=$(paste <(printf '%s\n' "$got") <(printf '%s\n' "$ref") | awk '$1 != $2 { print NR; exit }')
        echo "FAIL $model temperature=$temp strategy=$strategy: first difference at id ${first:-?}"
        fail=$((fail + 1))
      fi
    done
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
