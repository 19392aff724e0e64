package org.tensorbuffer.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Finds the host tools the GPU-less checks need (nvcc, ptxas, g++, gcc) and runs them. Tests call {@link #require}
 * and are skipped with a message naming the missing tool where it is absent; on the CI machines (CUDA 13 and GCC
 * installed) they run.
 */
final class CudaToolkit {
    private CudaToolkit() {
    }

    /** The module directory ({@code device-cuda}), found from the working directory Maven gives the tests. */
    static Path moduleDir() {
        Path here = Path.of("").toAbsolutePath();
        if (Files.isDirectory(here.resolve("src/main/cuda"))) {
            return here;
        }
        Path sub = here.resolve("device-cuda");
        if (Files.isDirectory(sub.resolve("src/main/cuda"))) {
            return sub;
        }
        throw new IllegalStateException("cannot find device-cuda/src/main/cuda from " + here);
    }

    /** A scratch directory under {@code target/}, created if needed. */
    static Path scratch(String name) throws IOException {
        return Files.createDirectories(moduleDir().resolve("target").resolve(name));
    }

    /** The path of {@code tool} on PATH or in the usual CUDA directories, or {@code null}. */
    static Path find(String tool) {
        List<Path> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isEmpty()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        String home = System.getenv("CUDA_HOME");
        if (home != null) {
            dirs.add(Path.of(home, "bin"));
        }
        dirs.add(Path.of("/usr/local/cuda/bin"));
        for (Path d : dirs) {
            Path p = d.resolve(tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    /** The tool's path; skips the calling test with "TOOL not found" when it is absent. */
    static Path require(String tool) {
        Path p = find(tool);
        assumeTrue(p != null, () -> tool + " not found on PATH or in /usr/local/cuda/bin: check skipped");
        return p;
    }

    /** Output (stdout and stderr together) and exit status of a finished command. */
    record Result(int status, String output) {
    }

    /** Runs {@code command} in {@code dir} with extra environment, waiting at most {@code seconds}. */
    static Result run(Path dir, List<String> command, List<String> env, long seconds)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        for (String e : env) {
            int eq = e.indexOf('=');
            pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
        }
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " ran over " + seconds + " s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
