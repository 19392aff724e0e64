#!/usr/bin/env bash
# Regenerates the NumPy references of the Java tests (workloads/src/test/resources/einsum/NAME.json) for the 14
# instances: seed 42, the path each test uses. Takes several minutes (gm_queen and the MERA networks are heavy).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$here/workloads/src/test/resources/einsum"
mkdir -p "$out"
for f in "$here"/data/einsum/*.json; do
  name=$(basename "$f" .json)
  path=opt_flops
  case "$name" in gm_queen5_5_3.wcsp) path=opt_size ;; esac
  echo "$name ($path)" >&2
  python3 "$here/scripts/einsum_reference.py" "$f" --path "$path" --seed 42 --reference-json "$out/$name.json"
done
