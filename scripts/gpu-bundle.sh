#!/usr/bin/env bash
# Builds the project's jars and packs them, with their runtime dependencies, the CUDA test classes, the JUnit console
# launcher, the checkpoints and einsum instances, and a jlinked Java 25 runtime, into .gpu/ (git-ignored) for
# scripts/gpu-check.sh on the GPU machine, which has no Java and no Maven.
#
# Usage (repo root, on a developer machine): bash scripts/gpu-bundle.sh [--no-build]
#   --no-build  use the jars already in */target (CI: after `./mvnw verify`) instead of running `./mvnw package`
# Then, in the session that holds a GPU: run `bash scripts/gpu-check.sh` with carry [".gpu"]; CI runs
# `bash scripts/gpu-check.sh --dry-run` on the bundle.
# Without shared/ (TB_SHARED, ../shared or ../../shared) the bundle takes the einsum instances from the repository's
# data/ and has no checkpoints (the GPU run's decode steps then fail; the dry run says so).
set -euo pipefail
build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "gpu-bundle.sh: unknown argument '$arg' (usage: gpu-bundle.sh [--no-build])" >&2; exit 64 ;;
  esac
done
top=$(git rev-parse --show-toplevel)
cd "$top"
dest=.gpu
junit_console=${JUNIT_CONSOLE_VERSION:-1.14.1} # the JUnit Platform of the parent pom's junit-bom 5.14.1
assertj=${ASSERTJ_VERSION:-3.27.7}
# shared/ sits beside the checkout (../shared); from a worktree under wt/ it is one level further up.
shared=${TB_SHARED:-}
if [ -z "$shared" ]; then
  for c in ../shared ../../shared; do [ -d "$c/data" ] && { shared=$c; break; }; done
fi
if [ -n "$shared" ]; then
  data=$shared/data
else
  echo "!! no shared/ found (set TB_SHARED): einsum instances from data/, no checkpoints" >&2
  data=data
fi

rm -rf "$dest/lib" "$dest/test" "$dest/data"
mkdir -p "$dest/lib" "$dest/test" "$dest/data/models" "$dest/data/einsum"

if [ "$build" = 0 ]; then
  echo "== using the jars in */target (--no-build)"
  ls device-cuda/target/device-cuda-*-tests.jar benchmarks/target/tensorbuffer-benchmarks-*.jar >/dev/null \
    || { echo "no built jars: run ./mvnw -DskipTests package first" >&2; exit 1; }
else
echo "== building jars (./mvnw -q -DskipTests package)"
if ! ./mvnw -q -DskipTests package; then
  # Usually a test of another module that does not compile: package every module's main code without compiling
  # tests, then device-cuda with its test jar.
  echo "!! the full build failed; packaging main code only, then device-cuda with its tests" >&2
  ./mvnw -q -Dmaven.test.skip=true package
  ./mvnw -q -DskipTests -pl device-cuda -am package
fi
fi

echo "== runtime dependencies (maven-dependency-plugin copy-dependencies)"
./mvnw -q -DskipTests dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=org.tensorbuffer \
  -DoutputDirectory="$top/$dest/lib"
modules=$(sed -n 's#.*<module>\(.*\)</module>.*#\1#p' pom.xml)
for m in $modules; do
  for j in "$m"/target/*.jar; do
    [ -e "$j" ] || continue
    case "$j" in
      *-sources.jar|*-javadoc.jar) ;;
      *-tests.jar) cp "$j" "$dest/test/" ;;
      *) cp "$j" "$dest/lib/" ;;
    esac
  done
done
# The driver binding needs only libJCudaDriver (its NEEDED libraries are libcuda.so.1 and the C/C++ runtime); the
# natives jar also carries the PTX compiler, NVRTC and runtime bindings (24 MB unpacked), which would crowd the
# 64 MiB a device call can carry.
if command -v zip >/dev/null; then
  for j in "$dest"/lib/jcuda-natives-*.jar; do
    [ -e "$j" ] && zip -q -d "$j" 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*' 'lib/libJCudaRuntime*' || true
  done
fi
# Shaded/uber CLI jars duplicate the classes; keep plain module jars only.
rm -f "$dest"/lib/*-shaded.jar "$dest"/lib/*-jar-with-dependencies.jar

echo "== test launcher and test dependencies"
./mvnw -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_console \
  -DoutputDirectory="$top/$dest/test"
./mvnw -q dependency:copy -Dartifact=org.assertj:assertj-core:$assertj -DoutputDirectory="$top/$dest/test"

echo "== CLI main class"
main=${TB_CLI_MAIN:-}
if [ -z "$main" ]; then
  for j in cli/target/*.jar; do
    [ -e "$j" ] || continue
    main=$(unzip -p "$j" META-INF/MANIFEST.MF 2>/dev/null | tr -d '\r' | sed -n 's/^Main-Class: //p' | head -n 1)
    [ -n "$main" ] && break
  done
fi
if [ -z "$main" ]; then
  main=$(grep -rl --include=*.java '@Command' cli/src/main/java 2>/dev/null \
    | xargs -r grep -l 'static void main' | head -n 1 \
    | sed 's#cli/src/main/java/##; s#\.java$##; s#/#.#g' || true)
fi
echo "${main:-}" > "$dest/cli-main.txt"
echo "CLI main class: ${main:-<none found: decode/einsum checks will be skipped>}"

echo "== data"
cp "$data"/models/*.bin "$dest/data/models/" 2>/dev/null || echo "!! no checkpoints in $data/models" >&2
cp "$data"/einsum/*.json "$dest/data/einsum/"

echo "== Java runtime ($shared/tools/gpu-bundle)"
if ! { [ -n "$shared" ] && [ -x "$shared/tools/gpu-bundle" ] && "$shared/tools/gpu-bundle" "$dest"; } \
    && [ ! -s "$dest/jre.tgz" ]; then
  # The tool appends to .git/info/exclude, which fails in a git worktree (.git is a file there); .gpu/ is in
  # .gitignore anyway, so make the same runtime here with the tool's own jlink options.
  echo "!! ../shared/tools/gpu-bundle failed; jlinking the runtime with its options" >&2
  jdk=${JAVA25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
  work=$(mktemp -d)
  "$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.xml,jdk.management,jdk.unsupported,jdk.incubator.vector \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$work/jre"
  command -v strip >/dev/null && find "$work/jre" -name '*.so' -exec strip --strip-unneeded {} \;
  tar czf "$dest/jre.tgz" -C "$work" jre
  rm -rf "$work"
  du -sh "$dest" | awk '{print "bundle size: " $1 " (all that travels must stay under 64 MiB)"}'
fi
ls "$dest/lib" "$dest/test" | sed 's/^/  /'
