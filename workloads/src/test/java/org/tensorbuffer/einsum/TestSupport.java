package org.tensorbuffer.einsum;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Shared helpers: the repository root, and running the NumPy reference script when python3 with numpy exists. */
final class TestSupport {
    private static Boolean numpy;

    private TestSupport() {
    }

    /** The repository root (the folder holding {@code data/einsum}). */
    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("data/einsum"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find data/einsum above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    static Path instance(String name) {
        return root().resolve("data/einsum/" + name + ".json");
    }

    /**
     * The Python to run NumPy with: Debian's {@code /usr/bin/python3} (where {@code python3-numpy} installs) when it
     * exists, since a {@code python3} earlier on the PATH (pyenv, a virtualenv) may lack numpy; else {@code python3}.
     */
    static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    /** Whether {@code python() -c 'import numpy'} works. */
    static synchronized boolean hasNumpy() {
        if (numpy == null) {
            try {
                numpy = run(List.of(python(), "-c", "import numpy"), 60).exit == 0;
            } catch (IOException | InterruptedException e) {
                numpy = false;
            }
        }
        return numpy;
    }

    record Result(int exit, String out) {
    }

    /** Runs {@code scripts/einsum_reference.py} with the arguments; returns exit code and stdout+stderr. */
    static Result reference(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python(), root().resolve("scripts/einsum_reference.py").toString()));
        cmd.addAll(List.of(args));
        return run(cmd, 600);
    }

    private static Result run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
