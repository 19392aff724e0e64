package org.tensorbuffer.memory;

/**
 * Thrown when a tensor or buffer is used after its memory went back to a pool and may now belong to someone else.
 * Detected by the generation counter every {@link Block} carries: each recycle advances it, and a handle remembers
 * the generation it was given (the design notes' use-after-recycle detection).
 */
public class UseAfterRecycleException extends IllegalStateException {
    /** @param message names the handle, its generation and the block's current one */
    public UseAfterRecycleException(String message) {
        super(message);
    }
}
