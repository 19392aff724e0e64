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
    /** Whether the result future was completed or cancelled from outside: nothing escapes then. */
    boolean abandoned;
    /** The work's value (its tensors escape) and failure, once done. */
    Object value;
    Throwable failure;
    /** Tensors passed to {@link MemoryScope#escape} while the work ran; adopted by the enclosing scope at close. */
    final List<Tensor> escapees = new ArrayList<>();
    /** The future {@code callAsync} returned; completed by the scope after it has released its tensors. */
    final CompletableFuture<Object> result = new CompletableFuture<>();
    /** Completed after the scope has released its tensors, however the work ended. */
    final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** Whether the work's value is the result ({@code callAsync}: its tensors escape) or dropped ({@code runAsync}). */
    final boolean keepValue;

    AsyncSettlement(boolean keepValue) {
        this.keepValue = keepValue;
    }

    /** Set while the scope itself completes {@link #result}, so that its own completion is not taken for abandonment. */
    boolean completing;
}
