package org.tensorbuffer.memory;

/**
 * Thrown when a reference count would go below zero or is incremented after reaching zero (as Netty's exception of
 * the same name).
 */
public class IllegalReferenceCountException extends IllegalStateException {
    /** @param message names the block or tensor and its count */
    public IllegalReferenceCountException(String message) {
        super(message);
    }
}
