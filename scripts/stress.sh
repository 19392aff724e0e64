#!/usr/bin/env bash
# The reliability stress of issue 15 (not part of `mvn test`): THREADS threads for SECONDS seconds take/release pool
# blocks and tensors (reactive and proactive), release about half of them on other threads, clear and re-reserve
# TensorBuffer shapes, and close whole pools under load, with ownership stamps in every buffer. Prints the figures
# recorded in docs/reliability.md and exits 0 only when there were 0 errors, 0 live bytes, and the device holds 0 bytes
# after close.
# Usage: scripts/stress.sh [THREADS=8] [SECONDS=60]     (on the shared build machine: /work/bin/tb-bench scripts/stress.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-8}
seconds=${2:-60}
jar="$here/cli/target/tensorbuffer-cli.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here" -path "$here/.git" -prune -o -path '*/target' -prune -o \( -name '*.java' -o -name 'pom.xml' \) -newer "$jar" -print -quit 2>/dev/null)" ]; then
  echo "stress: building..." >&2
  (cd "$here" && ./mvnw -q -B -DskipTests package >&2)
fi
java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
[ -x "$java" ] || java=java
echo "stress: $(nproc) CPUs, $("$java" -version 2>&1 | head -1), $(date -u +%Y-%m-%dT%H:%MZ), $threads threads, $seconds s" >&2
exec "$java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx1g \
  -cp "$jar:$here/cli/target/lib/*" org.tensorbuffer.bench.ReliabilityStress "$threads" "$seconds"
