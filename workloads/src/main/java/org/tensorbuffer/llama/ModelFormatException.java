package org.tensorbuffer.llama;

import java.nio.file.Path;

/**
 * A checkpoint or tokenizer file that is truncated, inconsistent or otherwise not in llama2.c's format; the message
 * names the file and the field at fault.
 */
public final class ModelFormatException extends IllegalArgumentException {
    private final transient Path file;
    private final String field;

    /**
     * @param file   the file at fault
     * @param field  the header field or section that is wrong (e.g. {@code vocab_size}, {@code wq})
     * @param detail what is wrong with it
     */
    public ModelFormatException(Path file, String field, String detail) {
        super(file + ": field '" + field + "': " + detail);
        this.file = file;
        this.field = field;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The field or section at fault. */
    public String field() {
        return field;
    }
}
