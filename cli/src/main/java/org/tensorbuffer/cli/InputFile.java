package org.tensorbuffer.cli;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * picocli converter of options that name a file to read: refused at parse time (exit 2) unless it exists, is a
 * regular file (not a directory or a device such as {@code /dev/null}) and is readable.
 */
final class InputFile implements ITypeConverter<Path> {
    @Override
    public Path convert(String value) {
        Path p = path(value);
        if (!Files.exists(p)) {
            throw new TypeConversionException(value + ": file not found");
        }
        if (Files.isDirectory(p)) {
            throw new TypeConversionException(value + ": is a directory, not a file");
        }
        if (!Files.isRegularFile(p)) {
            throw new TypeConversionException(value + ": not a regular file");
        }
        if (!Files.isReadable(p)) {
            throw new TypeConversionException(value + ": not readable (permission denied)");
        }
        return p;
    }

    static Path path(String value) {
        if (value.isEmpty()) {
            throw new TypeConversionException("empty path");
        }
        try {
            return Path.of(value);
        } catch (InvalidPathException e) {
            throw new TypeConversionException(value + ": invalid path (" + e.getReason() + ")");
        }
    }

    /** Converter of options that name a directory to read files from. */
    static final class Directory implements ITypeConverter<Path> {
        @Override
        public Path convert(String value) {
            Path p = path(value);
            if (!Files.isDirectory(p)) {
                throw new TypeConversionException(value + (Files.exists(p) ? ": not a directory"
                        : ": directory not found"));
            }
            return p;
        }
    }
}
