#!/usr/bin/env bash
# OpenJDK jcstress tests of the pools' lock-free paths (issue 15): Block reference counts (release vs release,
# take vs revoke), BufferPool thread-cache take/release vs close, TensorBuffer magazine take/release vs clear and
# close, cross-thread release vs clear. Module jcstress, built only with the Maven profile `jcstress` (not part of
# `./mvnw verify`: a useful run takes minutes). Prints jcstress's summary; the HTML report goes to
# jcstress/target/jcstress-results/index.html. Exits non-zero when a test saw a forbidden outcome or failed.
# Usage: scripts/jcstress.sh [MODE=quick] [more jcstress options, e.g. -t TensorBuffer -c 2]
#        MODE is one of jcstress's presets: sanity (seconds), quick, default, tough, stress.
#        (on the shared build machine: /work/bin/tb-bench scripts/jcstress.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-quick}
[ $# -gt 0 ] && shift
echo "jcstress: building..." >&2
(cd "$here" && ./mvnw -q -B -Pjcstress -pl jcstress -am package -DskipTests >&2)
java=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
[ -x "$java" ] || java=java
echo "jcstress: $(nproc) CPUs, $("$java" -version 2>&1 | head -1), $(date -u +%Y-%m-%dT%H:%MZ), mode $mode $*" >&2
target="$here/jcstress/target"
cd "$target"
exec "$java" --enable-native-access=ALL-UNNAMED -cp "$target/tensorbuffer-jcstress-0.1.0-SNAPSHOT.jar:$target/lib/*" org.openjdk.jcstress.Main \
  -m "$mode" -jvmArgsPrepend "--enable-native-access=ALL-UNNAMED -Dtensorbuffer.jmx=false" -r "$target/jcstress-results" "$@"
