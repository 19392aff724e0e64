package org.tensorbuffer.llama;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The bundled models (repo-root {@code models/}) and the expected data made by
 * workloads/scripts/llama2c-expected-ids.sh.
 */
public final class TestModels {
    private TestModels() {
    }

    /** The repository's models directory, found from the working directory upwards. */
    public static Path dir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("models/stories260K.bin"))) {
                return p.resolve("models");
            }
        }
        throw new IllegalStateException("models/stories260K.bin not found above " + Path.of("").toAbsolutePath());
    }

    public static Path stories() {
        return dir().resolve("stories260K.bin");
    }

    public static Path aidreams() {
        return dir().resolve("aidreams260K.bin");
    }

    public static Path aidreamsTokenizer() {
        return dir().resolve("aidreams-tok512.bin");
    }

    /** A test resource under {@code llama/} as text. */
    public static String resource(String name) {
        try (var in = TestModels.class.getResourceAsStream("/llama/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource llama/" + name);
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Space-separated ids of a {@code .ids} resource (run.c's sampled tokens). */
    public static int[] ids(String name) {
        String s = resource(name).trim();
        return s.isEmpty() ? new int[0] : Arrays.stream(s.split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }
}
