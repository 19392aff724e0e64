package org.tensorbuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The bookkeeping of an asynchronous {@link MemoryScope} ({@link MemoryScope#callAsync}, {@link MemoryScope#runAsync}):
 * how many threads are running inside it, whether its work has settled and how, the tensors escaped from it (handed to
 * the enclosing scope when it closes) and the futures completed when it has closed. Every field is guarded by the
 * scope's monitor.
 */
final class AsyncSettlement {
    /** Threads inside the scope now: the body while it runs, plus every {@link MemoryScope#wrap wrapped} task running. */
    int active;
    /** Whether the work's future has completed (normally, exceptionally or cancelled), or the result was abandoned. */
    boolean done;
    /** Whether {@link MemoryScope#close()} was called before the work settled (it waits for the work). */
    boolean closeRequested;
    /**
     * Whether the result future was completed or cancelled from outside ({@link AsyncResult}): nothing escapes then,
     * and the outsider, not the scope, completes the result. Once set it stays set (a normal settlement of the work
     * that races with the cancel does not undo it).
     */
    boolean abandoned;
    /** The stage the body returned (cancelled when the result is abandoned); null while the body runs. */
    CompletableFuture<?> work;
    /** The work's value (its tensors escape) and failure, once done. */
    Object value;
    Throwable failure;
    /** Tensors passed to {@link MemoryScope#escape} while the work ran; adopted by the enclosing scope at close. */
    final List<Tensor> escapees = new ArrayList<>();
    /**
     * The future {@code callAsync} returned; completed by the scope after it has released its tensors (set by the
     * scope's constructor, before the scope is shared).
     */
    AsyncResult<Object> result;
    /** Completed after the scope has released its tensors, however the work ended. */
    final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** Whether the work's value is the result ({@code callAsync}: its tensors escape) or dropped ({@code runAsync}). */
    final boolean keepValue;

    AsyncSettlement(boolean keepValue) {
        this.keepValue = keepValue;
    }

    /**
     * Set when the scope commits to its outcome (at the start of closing, under the monitor): from then on an outside
     * completion of {@link #result} is refused, so that the outcome the scope acted on is the one the caller sees.
     */
    boolean completing;
}
