#!/usr/bin/env bash
# Regenerates the expected token ids of the decode tests (workloads/src/test/resources/llama/*.ids) with the reference
# implementation, llama2.c's run.c (https://github.com/karpathy/llama2.c, MIT), at a pinned commit.
#
# Usage: workloads/scripts/llama2c-expected-ids.sh [PATH_TO_run.c]
#   Without an argument run.c is downloaded from GitHub (commit below). run.c itself is not committed here.
#   The copy is patched so that, with PRINT_IDS set, it prints the ids of the tokens that follow the prompt
#   (space-separated, what `tensorbuffer decode --print-ids` prints) instead of their text; nothing else changes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
commit=350e04fe35433e6d2941dce5a1f53308f87058eb
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ $# -ge 1 ]; then cp "$1" "$work/run.c"; else
  curl -fsSL "https://raw.githubusercontent.com/karpathy/llama2.c/$commit/run.c" -o "$work/run.c"; fi
# In generate(): print the id of each sampled token (pos >= num_prompt_tokens after pos++) instead of the piece.
sed -i '0,/safe_printf(piece); \/\/ same as printf/s//if (getenv("PRINT_IDS")) { if (pos >= num_prompt_tokens) printf("%d ", next); } else safe_printf(piece); \/\/ same as printf/' "$work/run.c"
# After encode() in generate(): with PRINT_PROMPT set, print the prompt's token ids (BOS first) and exit.
sed -i '0,/encode(tokenizer, prompt, 1, 0, prompt_tokens, &num_prompt_tokens);/s//&\n    if (getenv("PRINT_PROMPT")) { for (int i = 0; i < num_prompt_tokens; i++) printf("%s%d", i ? " " : "", prompt_tokens[i]); printf("\\n"); exit(0); }/' "$work/run.c"
grep -q 'getenv("PRINT_IDS")' "$work/run.c" && grep -q 'getenv("PRINT_PROMPT")' "$work/run.c" \
  || { echo "patching run.c failed" >&2; exit 1; }
gcc -O2 -o "$work/run" "$work/run.c" -lm
m="$here/models"; out="$here/workloads/src/test/resources/llama"; mkdir -p "$out"
ids() { PRINT_IDS=1 "$work/run" "$@" 2>/dev/null | sed 's/ *$//'; }
# stories260K has no bundled tokenizer (llama2.c's tok512.bin is not shipped); with an empty prompt run.c only
# needs one for printing, so any 512-token tokenizer file will do for the ids.
ids "$m/stories260K.bin" -z "$m/aidreams-tok512.bin" -t 0 -n 256 > "$out/stories260K-greedy-256.ids"
ids "$m/stories260K.bin" -z "$m/aidreams-tok512.bin" -t 0.8 -p 0.9 -s 42 -n 200 > "$out/stories260K-t0.8-p0.9-s42-200.ids"
ids "$m/stories260K.bin" -z "$m/aidreams-tok512.bin" -t 1.0 -p 1.0 -s 7 -n 100 > "$out/stories260K-t1.0-s7-100.ids"
ids "$m/aidreams260K.bin" -z "$m/aidreams-tok512.bin" -t 0 -n 128 -i "Once upon a time" > "$out/aidreams260K-greedy-128-once.ids"
"$work/run" "$m/aidreams260K.bin" -z "$m/aidreams-tok512.bin" -t 0 -n 128 -i "Once upon a time" 2>/dev/null \
  > "$out/aidreams260K-greedy-128-once.txt"
# Prompt encodings (BPE merges, byte fallback for characters outside the vocabulary), one prompt a line.
: > "$out/aidreams-tok512-prompts.tsv"
while IFS= read -r p; do
  printf '%s\t%s\n' "$p" "$(PRINT_PROMPT=1 "$work/run" "$m/aidreams260K.bin" -z "$m/aidreams-tok512.bin" -i "$p")" \
    >> "$out/aidreams-tok512-prompts.tsv"
done <<'PROMPTS'
Once upon a time
Classifications unfold, a kaleidoscope of probability
pixels   unfolding like petals.
Héllo wörld ✓ 東京 🙂
x
PROMPTS
echo "wrote $(ls "$out" | tr '\n' ' ')"
