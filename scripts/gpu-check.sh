#!/usr/bin/env bash
# The one prepared check of the CUDA backend (issue 9) for a session that holds a GPU.
#
# Prepare on a developer machine:  bash scripts/gpu-bundle.sh          (fills the git-ignored .gpu/)
# Run on the GPU machine:          device run: command "bash scripts/gpu-check.sh", carry [".gpu"], timeout_s 420
# Check without a GPU (CI does):   bash scripts/gpu-check.sh --dry-run
#
# Usage: gpu-check.sh [--dry-run] [--help]
#   --dry-run  run the script's own logic on a machine without a GPU: argument handling, the bundle's layout, Java
#              start-up from the bundle (unpacking the jlinked runtime, the JUnit console launcher on the bundle's
#              GPU-less tests), then stop at the first CUDA call with a "no GPU" line and write the report
#              (results.json, results.md); exits 0 if everything before the CUDA call worked.
# Environment: OUT (default ./gpu-out), TB_BUNDLE (default .gpu), TB_TOTAL_S (budget in seconds, default 330),
#              PYTHON (default python3).
#
# Steps, each with its own time limit so that the whole run ends in under 6 minutes:
#   0. arguments, bundle layout, Java start-up from the bundle (timed)
#   1. nvidia-smi, driver, GPU; what the CUDA backend sees (org.tensorbuffer.bench.gpu.CudaInfo: which GEMM, pools)
#      and `tensorbuffer devices`. CudaInfo is the first CUDA call: if CUDA is unavailable the run stops here with
#      "no GPU: <reason>" and writes the report.
#   2. the device-cuda tests with the JUnit console launcher (kernels vs references, device and pool contracts); the
#      checks CI already runs without a GPU (PtxBuildTest, KernelsOnCpuTest, FfmBindingStubTest, FakeDriverTest) are
#      left out to save device time
#   3. allocation benchmark: pool take+close vs cuMemAlloc+cuMemFree vs cuMemAllocAsync+cuMemFreeAsync, 256 B..64 MiB
#   4. PyTorch (torch.cuda, caching allocator) on tensornetwork_permutation_light_415, same pairwise path
#   5. tensornetwork_permutation_light_415 on CUDA per strategy (time per evaluation, peak bytes)
#   6. decode --device cuda on both checkpoints for every strategy; token ids (the "ids" of --json) must equal the
#      CPU's
#   7. every einsum instance on CUDA and on the CPU; results must agree within 1e-9 relative (norm)
#   8. report: results.json with every figure and verdict and results.md (scripts/gpu_check_report.py)
# Output under $OUT (default ./gpu-out), at most 9 files: gpu-check.log (all of the above), results.json, results.md,
# tests.log, bench.log, decode.log, einsum.log, vulkan.log.
set -uo pipefail

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument '$arg' (usage: gpu-check.sh [--dry-run] [--help])" >&2; exit 64 ;;
  esac
done

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

# The bundle's files the run needs: NAME GLOB (one line each); a missing one fails step 0.
REQUIRED="runtime jre.tgz
core lib/tensorbuffer-[0-9]*.jar
device-cuda lib/device-cuda-*.jar
benchmarks(CudaInfo,CudaAllocBench,VulkanAllocBench) lib/tensorbuffer-benchmarks-*.jar
jcuda lib/jcuda-[0-9]*.jar
jcuda-natives lib/jcuda-natives-*.jar
device-cuda-tests test/device-cuda-*-tests.jar
core-tests(KernelConformanceTest) test/tensorbuffer-[0-9]*-tests.jar
junit-console test/junit-platform-console-standalone-*.jar
assertj test/assertj-core-*.jar"
DIAG_CLASSES="org/tensorbuffer/bench/gpu/CudaInfo.class org/tensorbuffer/bench/gpu/CudaAllocBench.class
org/tensorbuffer/bench/gpu/VulkanAllocBench.class"

# no_gpu REASON: the first CUDA call found no usable GPU. Writes the report and ends the run (dry run: status 0).
no_gpu() {
  echo
  echo "=== no GPU: $1"
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry run: stopped at the first CUDA call, as it should on a machine without a GPU"
  fi
  echo "$1" > "$W/stopped.txt"
  step "8. report"
  "$PY" scripts/gpu_check_report.py "$W" "$OUT/results.json" || { echo "report writer failed"; exit 1; }
  echo "work files: $W; total $((SECONDS - T0)) s"
  [ "$DRY_RUN" = 1 ] && exit 0
  exit 1
}

# Step 0: the bundle's layout and Java start-up from it. Sets JAVA. Fails the run on a missing piece.
preflight() {
  step "0. arguments, bundle layout, Java start-up ($([ "$DRY_RUN" = 1 ] && echo dry run || echo real run))"
  echo "mode: $([ "$DRY_RUN" = 1 ] && echo dry-run || echo real)" | tee "$W/mode.txt"
  echo "bundle: $B; out: $OUT; budget: $TOTAL_S s"
  local bad=0 name glob
  while read -r name glob; do
    if ls $B/$glob >/dev/null 2>&1; then
      echo "  ok      $name: $(cd "$B" && ls $glob | head -n 1)"
    else
      echo "  MISSING $name: $B/$glob"; bad=1
    fi
  done <<< "$REQUIRED"
  local models einsums
  models=$(ls "$B"/data/models/*.bin 2>/dev/null | wc -l)
  einsums=$(ls "$B"/data/einsum/*.json 2>/dev/null | wc -l)
  echo "  data    $models checkpoints, $einsums einsum instances$([ "$models" = 0 ] && echo ' (decode steps will fail: no checkpoints)')"
  echo "  cli     main class: $(cat "$B/cli-main.txt" 2>/dev/null || echo '<none: decode/einsum steps skipped>')"
  if [ "$bad" = 1 ]; then
    echo "bundle incomplete: run scripts/gpu-bundle.sh and carry $B"; exit 1
  fi
  # The diagnostics mains live in the benchmarks jar (org.tensorbuffer.bench.gpu).
  "$PY" - "$B"/lib/tensorbuffer-benchmarks-*.jar $DIAG_CLASSES <<'PYEOF' || { echo "benchmarks jar lacks the diagnostics mains"; exit 1; }
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
missing = [c for c in sys.argv[2:] if c not in names]
print("  ok      diagnostics mains in the benchmarks jar" if not missing else "  MISSING " + " ".join(missing))
sys.exit(1 if missing else 0)
PYEOF
  local t t1 t2
  t=$(date +%s%N)
  rm -rf /tmp/jre && tar xzf "$B/jre.tgz" -C /tmp || { echo "cannot unpack $B/jre.tgz"; exit 1; }
  JAVA=/tmp/jre/bin/java
  t1=$(date +%s%N)
  "$JAVA" -version 2>&1 | head -n 1 || { echo "the bundled Java does not start"; exit 1; }
  t2=$(date +%s%N)
  echo "java start-up: unpack $(( (t1 - t) / 1000000 )) ms, first JVM (java -version) $(( (t2 - t1) / 1000000 )) ms" \
    | tee "$W/timings.txt"
  if [ "$DRY_RUN" = 1 ]; then
    # Step 2's machinery (unpacked test classes, class path, the JUnit console launcher on the jlinked runtime) on a
    # test class that needs no GPU.
    echo "--- JUnit console launcher from the bundle on FakeDriverTest (needs no GPU)"
    test_classes "$W/dry-test-classes"
    timeout 120 "$JAVA" --enable-native-access=ALL-UNNAMED -jar "$B"/test/junit-platform-console-standalone-*.jar \
      execute --disable-banner --disable-ansi-colors --details=summary --class-path "$TCP" \
      --select-class org.tensorbuffer.cuda.FakeDriverTest --fail-if-no-tests > "$W/dry-tests.log" 2>&1
    local st=$?
    grep -E 'tests (successful|failed|found)' "$W/dry-tests.log"
    echo "launcher exit status $st" | tee -a "$W/timings.txt"
    [ "$st" = 0 ] || { tail -n 30 "$W/dry-tests.log"; echo "the JUnit launcher failed from the bundle"; exit 1; }
  fi
}

# test_classes DIR: unpacks the device-cuda test classes into DIR and sets TCP, the tests' class path.
test_classes() {
  # The jlinked runtime has no jar file system (jdk.zipfs), which JUnit's package scan of a jar needs: unpack the
  # test classes into a directory and scan that.
  mkdir -p "$1"
  "$PY" -m zipfile -e "$B"/test/device-cuda-*-tests.jar "$1"
  TCP="$1:"$(ls "$B"/lib/*.jar "$B"/test/*.jar | grep -v -e console-standalone -e device-cuda-.*-tests.jar \
    | tr '\n' ':')
}

main() {
  preflight
  step "1. GPU and driver"
  date -u +"date: %Y-%m-%dT%H:%M:%SZ"
  nvidia-smi || echo "nvidia-smi failed"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | tee "$W/gpu.csv"
  uname -srm
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu ok:", torch.cuda.is_available())' \
    || echo "python3 has no torch"


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
  timeout "$(limit 30)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.bench.gpu.CudaInfo > "$W/info.txt" 2>&1
  info_status=$?
  cat "$W/info.txt"
  if [ "$info_status" != 0 ]; then
    reason=$(grep -m 1 -o 'unavailable: .*' "$W/info.txt" | sed 's/^unavailable: //')
    no_gpu "${reason:-CudaInfo exited with status $info_status}"
  fi
  MAIN=$(cat "$B/cli-main.txt" 2>/dev/null)
  if [ -n "$MAIN" ]; then
    echo "--- tensorbuffer devices"
    timeout "$(limit 30)" "$JAVA" "${JOPTS[@]}" -cp "$CP" "$MAIN" devices 2>&1
  fi

  step "2. device-cuda tests (JUnit console launcher)"
  test_classes "$W/test-classes"
  timeout "$(limit 150)" "$JAVA" "${JOPTS[@]}" -jar "$B"/test/junit-platform-console-standalone-*.jar execute \
    --disable-banner --disable-ansi-colors --details=tree --class-path "$TCP" --scan-classpath "$W/test-classes" \
    --include-classname '.*Test' --fail-if-no-tests \
    --exclude-classname '.*\.(PtxBuildTest|KernelsOnCpuTest|FfmBindingStubTest|FakeDriverTest)' > "$W/tests.log" 2>&1
  echo "exit status $?" >> "$W/tests.log"
  grep -E '\[ *[0-9]+ tests|✘|exit status' "$W/tests.log"
  cp "$W/tests.log" "$OUT/tests.log"

  step "3. allocation benchmark"
  timeout "$(limit 60)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.bench.gpu.CudaAllocBench --millis 150 \
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
      timeout "$(limit 40)" "$JAVA" "${JOPTS[@]}" -cp "$CP" org.tensorbuffer.bench.gpu.VulkanAllocBench 2>&1
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
