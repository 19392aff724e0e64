#!/usr/bin/env bash
# The one prepared check of the CUDA backend (issue 9) for a session that holds a GPU.
#
# Prepare on a developer machine:  bash scripts/gpu-bundle.sh          (fills the git-ignored .gpu/)
# Run on the GPU machine:          device run: command "bash scripts/gpu-check.sh", carry [".gpu"], timeout_s 420
#
# Steps, each with its own time limit so that the whole run ends in under 6 minutes:
#   1. nvidia-smi, driver, GPU; what the CUDA backend sees (org.tensorbuffer.cuda.CudaInfo: which GEMM, pools) and
#      `tensorbuffer devices`
#   2. the device-cuda tests with the JUnit console launcher (kernels vs references, device and pool contracts)
#   3. allocation benchmark: pool take+close vs cuMemAlloc+cuMemFree vs cuMemAllocAsync+cuMemFreeAsync, 256 B..64 MiB
#   4. PyTorch (torch.cuda, caching allocator) on tensornetwork_permutation_light_415, same pairwise path
#   5. tensornetwork_permutation_light_415 on CUDA per strategy (time per evaluation, peak bytes)
#   6. decode --device cuda on both checkpoints for every strategy; token ids (the "ids" of --json) must equal the
#      CPU's
#   7. every einsum instance on CUDA and on the CPU; results must agree within 1e-9 relative (norm)
#   8. report: results.json with every figure and verdict (scripts/gpu_check_report.py)
# Output under $OUT (default ./gpu-out), at most 8 files: gpu-check.log (all of the above), results.json,
# tests.log, bench.log, decode.log, einsum.log.
set -uo pipefail

OUT=${OUT:-$PWD/gpu-out}
B=${TB_BUNDLE:-.gpu}
TOTAL_S=${TB_TOTAL_S:-330}
mkdir -p "$OUT"
W=$(mktemp -d /tmp/gpu-check.XXXXXX)
T0=$SECONDS
PY=${PYTHON:-python3}

step() { echo; echo "=== [$((SECONDS - T0)) s] $*"; }
left() { echo $((TOTAL_S - (SECONDS - T0))); }
# limit N: the smaller of N seconds and what is left of the budget (at least 1)
limit() { local l; l=$(left); [ "$l" -gt "$1" ] && l=$1; [ "$l" -lt 1 ] && l=1; echo "$l"; }

main() {
  step "1. GPU and driver"
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi || echo "nvidia-smi failed"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | tee "$W/gpu.csv"
  uname -srm
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu ok:", torch.cuda.is_available())' \
    || echo "python3 has no torch"

  if [ ! -s "$B/jre.tgz" ]; then
    echo "no $B/jre.tgz: run scripts/gpu-bundle.sh first and carry $B"; return 1
  fi
  rm -rf /tmp/jre && tar xzf "$B/jre.tgz" -C /tmp
  JAVA=/tmp/jre/bin/java
  "$JAVA" -version 2>&1 | head -n 1

  # cuBLAS: the library the backend binds through FFM; its directory also holds libcublasLt.
  CUBLAS=$(ldconfig -p 2>/dev/null | awk '/libcublas\.so\.[0-9]+ /{print $NF; exit}')
  if [ -z "$CUBLAS" ]; then # the nvidia-cublas wheel that PyTorch uses
    CUBLAS=$("$PY" -c 'import glob, site
c = [f for d in site.getsitepackages() for f in glob.glob(d + "/nvidia/**/libcublas.so.*", recursive=True)]
print(sorted(c)[-1] if c else "")' 2>/dev/null)
  fi
  if [ -z "$CUBLAS" ]; then
    CUBLAS=$(timeout 20 find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name 'libcublas.so.[0-9]*' -print \
      2>/dev/null | grep -v Lt | sort -V | tail -n 1)
  fi
  JOPTS=(--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xss8m)
  if [ -n "$CUBLAS" ]; then
    echo "cuBLAS: $CUBLAS"
    export LD_LIBRARY_PATH="$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    JOPTS+=("-Dtensorbuffer.cuda.cublas=$CUBLAS")
  else
    echo "cuBLAS: none found (the tiled PTX GEMM will be used)"
  fi
  CP="$B/lib/*"
  timeout "$(limit 30)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.cuda.CudaInfo 2>&1 | tee "$W/info.txt"
  MAIN=$(cat "$B/cli-main.txt" 2>/dev/null)
  if [ -n "$MAIN" ]; then
    echo "--- tensorbuffer devices"
    timeout "$(limit 30)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" devices 2>&1
  fi

  step "2. device-cuda tests (JUnit console launcher)"
  # The jlinked runtime has no jar file system (jdk.zipfs), which JUnit's package scan of a jar needs: unpack the
  # test classes into a directory and scan that.
  mkdir -p "$W/test-classes"
  "$PY" -m zipfile -e "$B"/test/device-cuda-*-tests.jar "$W/test-classes"
  TCP="$W/test-classes:"$(ls "$B"/lib/*.jar "$B"/test/*.jar | grep -v -e console-standalone -e device-cuda-.*-tests.jar \
    | tr '\n' ':')
  timeout "$(limit 150)" "$JAVA" "${JOPTS[@]}" -jar "$B"/test/junit-platform-console-standalone-*.jar execute \
    --disable-banner --disable-ansi-colors --details=tree --class-path "$TCP" --scan-classpath "$W/test-classes" \
    --include-classname '.*Test' --fail-if-no-tests > "$W/tests.log" 2>&1
  echo "exit status $?" >> "$W/tests.log"
  grep -E '\[ *[0-9]+ tests|✘|exit status' "$W/tests.log"
  cp "$W/tests.log" "$OUT/tests.log"

  step "3. allocation benchmark"
  timeout "$(limit 60)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.cuda.CudaAllocBench --millis 150 \
    --json "$W/alloc.json" 2>&1 | tee "$W/bench.log"

  TN415="$B/data/einsum/tensornetwork_permutation_light_415.json"
  step "4. PyTorch on tensornetwork_permutation_light_415 (torch.cuda, same pairwise path)"
  PYTHONUNBUFFERED=1 timeout "$(limit 60)" "$PY" scripts/torch_einsum_bench.py "$TN415" --path opt_flops --repeat 10 \
    --json "$W/torch.json" 2>&1 | tee -a "$W/bench.log"

  if [ -z "$MAIN" ]; then
    echo "no CLI in the bundle ($B/cli-main.txt empty): skipping decode and einsum"
  else
    step "5. tensornetwork_permutation_light_415 on CUDA per strategy"
    mkdir -p "$W/tn415"
    for s in none reactive proactive; do
      timeout "$(limit 40)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" einsum "$TN415" \
        --path opt_flops --device cuda --strategy "$s" --repeat 10 --json > "$W/tn415/$s.out" 2>&1
      echo "exit status $?" >> "$W/tn415/$s.out"
      echo "--- $s"; tail -n 25 "$W/tn415/$s.out"
    done 2>&1 | tee -a "$W/bench.log"

    step "6. decode on CUDA vs CPU, every strategy"
    mkdir -p "$W/decode"
    {
      for model in stories260K aidreams260K; do
        # stories260K: 256 positions from BOS (issue 4's test); aidreams260K: its whole seq_len (128) from the prompt
        args=(--model "$B/data/models/$model.bin" --temperature 0 --print-ids --json)
        if [ "$model" = aidreams260K ]; then
          args+=(--steps 0 --tokenizer "$B/data/models/aidreams-tok512.bin" --prompt "Once upon a time")
        else
          args+=(--steps 256)
        fi
        for s in none reactive proactive; do
          for dev in cpu cuda; do
            f="$W/decode/$model-$dev-$s.out"
            if [ "$(left)" -lt 100 ]; then echo "skipped: out of time" > "$f"; continue; fi
            timeout "$(limit 40)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" decode "${args[@]}" \
              --device "$dev" --strategy "$s" > "$f" 2>&1
            echo "exit status $?" >> "$f"
            echo "--- $model $dev $s"; cat "$f"
          done
        done
      done
    } > "$W/decode.log" 2>&1
    cp "$W/decode.log" "$OUT/decode.log"
    grep -E '^--- |exit status' "$W/decode.log" | paste - - | head -n 20

    step "6b. decode on Vulkan (NVIDIA's Vulkan driver) vs CPU, every strategy; Vulkan allocation benchmark"
    # Vulkan loader: carried as .gl/*.deb when the machine lacks one (see docs/gpu-results.md).
    if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
      for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
    fi
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
      export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    {
      for s in none reactive proactive; do
        for model in stories260K aidreams260K; do
          f="$W/decode/$model-vulkan-$s.out"
          if [ "$(left)" -lt 90 ]; then echo "skipped: out of time" > "$f"; continue; fi
          # the same arguments as step 6, so the ids compare with the CPU's files there
          args=(--model "$B/data/models/$model.bin" --temperature 0 --print-ids --json)
          if [ "$model" = aidreams260K ]; then
            args+=(--steps 0 --tokenizer "$B/data/models/aidreams-tok512.bin" --prompt "Once upon a time")
          else
            args+=(--steps 256)
          fi
          timeout "$(limit 40)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" decode "${args[@]}" \
            --device vulkan --strategy "$s" > "$f" 2>&1
          echo "exit status $?" >> "$f"
          echo "--- $model vulkan $s"; cat "$f"
        done
      done
      timeout "$(limit 40)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.metal.VulkanAllocBench 2>&1
    } > "$W/vulkan.log" 2>&1
    cp "$W/vulkan.log" "$OUT/vulkan.log"
    grep -E '^--- |exit status|ns/op|ratio' "$W/vulkan.log" | head -n 30
    "$PY" - "$W"/decode/*-vulkan-*.out <<'EOF' | tee -a "$W/vulkan.log"
import json, sys
def ids(path):
    try:
        text = open(path).read()
        return json.loads(text[text.index('{'):text.rindex('}') + 1]).get("ids")
    except (OSError, ValueError):
        return None
for f in sys.argv[1:]:
    a, b = ids(f), ids(f.replace("-vulkan-", "-cpu-"))
    verdict = "ids equal the CPU's" if a is not None and a == b else "ids DIFFER from the CPU's (or missing)"
    print(verdict + ": " + f.rsplit("/", 1)[-1])
EOF

    step "7. einsum instances on CUDA vs CPU"
    mkdir -p "$W/einsum"
    {
      for inst in "$B"/data/einsum/*.json; do
        name=$(basename "$inst" .json)
        for dev in cuda cpu; do
          f="$W/einsum/$name-$dev"
          if [ "$(left)" -lt 25 ]; then echo "skipped: out of time" > "$f.out"; continue; fi
          timeout "$(limit 30)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" einsum "$inst" \
            --path opt_flops --device "$dev" --repeat 1 --warmup 0 --output "$f.npy" --json > "$f.out" 2>&1
          echo "exit status $?" >> "$f.out"
          echo "--- $name $dev"; tail -n 5 "$f.out"
        done
      done
    } > "$W/einsum.log" 2>&1
    cp "$W/einsum.log" "$OUT/einsum.log"
  fi
  cp "$W/bench.log" "$OUT/bench.log"

  step "8. report"
  "$PY" scripts/gpu_check_report.py "$W" "$OUT/results.json"
  echo "work files: $W; total $((SECONDS - T0)) s"
}

main "$@" 2>&1 | tee "$OUT/gpu-check.log"
