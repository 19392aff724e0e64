#!/usr/bin/env bash
# Regenerates device-cuda/src/main/resources/org/tensorbuffer/cuda/kernels.ptx from src/main/cuda/kernels.cu.
# The PTX is committed, so building the project needs no CUDA toolkit; run this after editing kernels.cu.
# compute_75 (Turing) is the lowest virtual architecture CUDA 13's nvcc accepts (`nvcc --list-gpu-arch`); the driver
# JIT-compiles this PTX for the GPU it runs on (Volta and newer drivers accept PTX of a lower ISA level).
# No --use_fast_math: the F32 kernels must keep run.c's expf/sqrtf/powf/cosf/sinf accuracy.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
NVCC=${NVCC:-nvcc}
"$NVCC" --version | tail -n 2
"$NVCC" -ptx -arch=compute_75 -O3 -std=c++17 \
  -o "$here/src/main/resources/org/tensorbuffer/cuda/kernels.ptx" \
  "$here/src/main/cuda/kernels.cu"
echo "wrote $here/src/main/resources/org/tensorbuffer/cuda/kernels.ptx"
