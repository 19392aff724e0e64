#!/usr/bin/env bash
# Regenerates device-cuda/src/main/resources/org/tensorbuffer/cuda/kernels.ptx from src/main/cuda/kernels.cu.
# The PTX is committed, so building the project needs no CUDA toolkit; run this after editing kernels.cu.
# compute_75 (Turing) is the lowest virtual architecture CUDA 13's nvcc accepts (`nvcc --list-gpu-arch`); the driver
# JIT-compiles this PTX for the GPU it runs on (Volta and newer drivers accept PTX of a lower ISA level).
# No --use_fast_math: the F32 kernels must keep run.c's expf/sqrtf/powf/cosf/sinf accuracy.
#
# Reproducible output: nvcc names the anonymous namespace of kernels.cu `_INTERNAL_<8 hex digits>_...` with digits
# that change on every run (the rest of its output is the same for the same nvcc and source), so they are replaced
# by 00000000. The symbols so renamed are module-internal `.shared` arrays, renamed consistently. PtxBuildTest runs
# this script with PTX_OUT set and fails the build when the committed PTX differs from its output (stale PTX).
#
# Environment: NVCC (default nvcc), PTX_OUT (default the committed resource).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
NVCC=${NVCC:-nvcc}
out=${PTX_OUT:-$here/src/main/resources/org/tensorbuffer/cuda/kernels.ptx}
"$NVCC" --version | tail -n 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$NVCC" -ptx -arch=compute_75 -O3 -std=c++17 -o "$tmp/kernels.ptx" "$here/src/main/cuda/kernels.cu"
sed -E 's/_INTERNAL_[0-9a-f]{8}_/_INTERNAL_00000000_/g; s/__N__[0-9a-f]{8}_/__N__00000000_/g' "$tmp/kernels.ptx" > "$out"
echo "wrote $out"
