package org.tensorbuffer.llama;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Random llama2.c checkpoints written by {@code scripts/random-checkpoint.py} into a test's temporary folder (the
 * tests that need one are skipped, with the reason, where Debian's python3 with numpy is absent).
 */
final class RandomCheckpoints {
    private RandomCheckpoints() {
    }

    private static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    /**
     * Writes a checkpoint with the script's arguments (e.g. {@code --shape gqa38M --seq-len 64}) to
     * {@code dir/name.bin}, or skips the calling test if python3 with numpy is not there.
     */
    static Path write(Path dir, String name, String... args) throws IOException, InterruptedException {
        Path root = TestModels.dir().getParent();
        Path out = dir.resolve(name + ".bin");
        List<String> cmd = new ArrayList<>(List.of(python(), root.resolve("scripts/random-checkpoint.py").toString(),
                out.toString()));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("no python3 to run scripts/random-checkpoint.py: " + e.getMessage());
            throw e;
        }
        String log = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("random-checkpoint.py timed out");
        }
        Assumptions.assumeFalse(log.contains("No module named 'numpy'"), "python3 has no numpy: " + log.trim());
        if (p.exitValue() != 0) {
            throw new IllegalStateException("random-checkpoint.py failed: " + log);
        }
        return out;
    }
}
