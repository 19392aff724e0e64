#!/usr/bin/env bash
# Builds and runs the consumer project exactly as the README's "Use it as a library" says, against the TensorBuffer
# artifacts already installed (./mvnw install). Extra arguments go to Maven (e.g. -Dmaven.repo.local=DIR).
# Checks the printed result: silu of the row sums 10, 26, 42, 58.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
for c in "${JAVA_HOME:-}/bin/java" /usr/lib/jvm/temurin-25*/bin/java /usr/lib/jvm/*25*/bin/java "$HOME"/.jdks/*25*/bin/java; do
  [ -x "$c" ] || continue
  v=$(java_major "$c"); if [ -n "$v" ] && [ "${v%%.*}" -ge 25 ] 2>/dev/null; then JAVA_HOME=$(dirname "$(dirname "$c")"); break; fi
done
export JAVA_HOME
echo "consumer: JDK $JAVA_HOME" >&2

cd "$here"
# The README: Maven on a JDK 25 (release 25), the BOM and two dependencies; then the class path and the JVM flags.
"$root/mvnw" -B -q "$@" package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
out=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
      -cp "target/classes:$(cat target/classpath.txt)" com.example.Example)
echo "$out"
python3 - "$out" <<'PY'
import math, sys
first = sys.argv[1].splitlines()[0]
got = [float(v) for v in first.strip("[]").split(",")]
want = [s / (1 + math.exp(-s)) for s in (10, 26, 42, 58)]
assert len(got) == 4 and all(abs(g - w) <= 1e-4 * max(1, w) for g, w in zip(got, want)), (got, want)
print("consumer: README example OK", file=sys.stderr)
PY
