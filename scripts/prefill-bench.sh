#!/usr/bin/env bash
# Issue 16's prefill-versus-decode figure, warm: one JVM runs `rounds` interleaved rounds of a batched and a
# token-by-token prefill of PROMPT tokens followed by decoding up to STEPS positions, after WARMUP untimed rounds, and
# prints each round and the medians (org.tensorbuffer.bench.PrefillBench).
# Usage: scripts/prefill-bench.sh MODEL [PROMPT=200] [STEPS=256] [ROUNDS=3] [WARMUP=1] [STRATEGY=proactive] [DEVICE=cpu] [MODES=batched,token]
#        (on the shared build machine: /work/bin/tb-bench scripts/prefill-bench.sh ...)
# Extra JVM options (e.g. a JFR recording, -Dtensorbuffer.cpu.gemm=java) go in $JAVA_OPTS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jar="$here/cli/target/tensorbuffer-cli.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here" -path "$here/.git" -prune -o \( -name '*.java' -o -name 'pom.xml' \) -newer "$jar" -print -quit 2>/dev/null)" ]; then
  echo "prefill-bench: building..." >&2
  (cd "$here" && ./mvnw -q -B -DskipTests package >&2)
fi
java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
[ -x "$java" ] || java=java
echo "prefill-bench: $(date -u +%Y-%m-%dT%H:%MZ), command: $0 $*" >&2
# shellcheck disable=SC2086
exec "$java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow --add-modules jdk.incubator.vector \
  -XX:+UseParallelGC ${JAVA_OPTS:-} -cp "$jar:$here/cli/target/lib/*" org.tensorbuffer.bench.PrefillBench "$@"
