package org.tensorbuffer.einsum;

import java.io.IOException;

/** A {@code .npy} file that is not what was expected: its message names the file, what it found and what was expected. */
public final class NpyFormatException extends IOException {
    /** An exception with the given message. */
    public NpyFormatException(String message) {
        super(message);
    }
}
