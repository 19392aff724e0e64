package org.tensorbuffer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * picocli converter of options that name a file to write ({@code --output}, {@code --memory-timeline},
 * {@code --html}, {@code --svg}, {@code -o}): checked at parse time, before any work (exit 2), by opening it for
 * writing the way the command will: its directory must exist (none is created), it must not be a directory, and it
 * must be writable. A file that did not exist is removed again; an existing one is not changed.
 */
final class OutputFile implements ITypeConverter<Path> {
    @Override
    public Path convert(String value) {
        Path p = InputFile.path(value);
        check(p, value);
        return p;
    }

    static void check(Path p, String value) {
        if (Files.isDirectory(p)) {
            throw new TypeConversionException(value + ": is a directory, not a file");
        }
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            Path named = p.getParent() != null ? p.getParent() : parent;
            throw new TypeConversionException(value + ": " + named
                    + (Files.exists(parent) ? " is not a directory" : ": no such directory"));
        }
        boolean existed = Files.exists(p);
        try {
            Files.newOutputStream(p, StandardOpenOption.WRITE, StandardOpenOption.CREATE, StandardOpenOption.APPEND)
                    .close();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            String why = e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null ? fs.getReason()
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : e instanceof java.nio.file.NoSuchFileException ? "the file cannot be created there"
                    : e instanceof java.nio.file.FileSystemException ? e.getClass().getSimpleName()
                    : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            throw new TypeConversionException(value + ": cannot be written (" + why + ")");
        }
        if (!existed) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                // the probe file stays empty: harmless
            }
        }
    }
}
