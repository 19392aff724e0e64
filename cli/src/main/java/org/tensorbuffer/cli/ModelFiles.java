package org.tensorbuffer.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Where the bundled models are, and which tokenizer goes with a checkpoint. */
final class ModelFiles {
    /** The bundled checkpoint {@code compare} decodes by default. */
    static final String DEFAULT_MODEL = "stories260K.bin";

    private ModelFiles() {
    }

    /**
     * The repository's {@code models/} directory: under the system property {@code tensorbuffer.home} (set by the
     * {@code ./tensorbuffer} launcher), else the first {@code models/} found from the working directory upwards.
     */
    static Path modelsDir() {
        String home = System.getProperty("tensorbuffer.home");
        if (home != null && Files.isDirectory(Path.of(home, "models"))) {
            return Path.of(home, "models");
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("models").resolve(DEFAULT_MODEL))) {
                return p.resolve("models");
            }
        }
        return Path.of("models");
    }

    /**
     * A tokenizer next to {@code model} for a vocabulary of {@code vocabSize}, or {@code null}: {@code tok<V>.bin},
     * {@code <prefix>-tok<V>.bin} where {@code <prefix>} is the model file name up to its first digit (so
     * {@code aidreams260K.bin} finds {@code aidreams-tok512.bin}), or another {@code <prefix>*tok<V>.bin}.
     */
    static Path findTokenizer(Path model, int vocabSize) {
        Path dir = model.toAbsolutePath().getParent();
        if (dir == null) {
            return null;
        }
        String name = model.getFileName().toString();
        int cut = 0;
        while (cut < name.length() && !Character.isDigit(name.charAt(cut)) && name.charAt(cut) != '.') {
            cut++;
        }
        String prefix = name.substring(0, cut).toLowerCase(Locale.ROOT);
        String tok = "tok" + vocabSize + ".bin";
        if (!prefix.isEmpty() && Files.isRegularFile(dir.resolve(prefix + "-" + tok))) {
            return dir.resolve(prefix + "-" + tok);
        }
        if (Files.isRegularFile(dir.resolve(tok))) {
            return dir.resolve(tok);
        }
        if (prefix.isEmpty()) {
            return null;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, prefix + "*" + tok)) {
            for (Path p : ds) {
                return p; // e.g. aidreams_tok512.bin
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }
}
