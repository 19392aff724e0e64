package org.tensorbuffer;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The future {@link MemoryScope#callAsync} and {@link MemoryScope#runAsync} return. Completing it from outside
 * ({@link #cancel}, {@link #complete}, {@link #completeExceptionally}, and what calls them: {@code orTimeout},
 * {@code completeOnTimeout}, {@code completeAsync}) abandons the work: nothing escapes, everything is released once
 * the running tasks return. Once the scope has committed to its own outcome (it is handing out the result and the
 * escaped tensors and releasing the rest), an outside completion is refused and returns {@code false}, as
 * {@link java.util.concurrent.FutureTask#cancel} is refused while a task is completing; the future then completes
 * with the scope's outcome moments later. Without this, a cancel could land between the hand-out and the completion:
 * the future cancelled, its result delivered to nobody and released by nobody. {@code obtrudeValue} and
 * {@code obtrudeException} bypass the scope (their own Javadoc reserves them for error recovery).
 */
final class AsyncResult<T> extends CompletableFuture<T> {
    private final MemoryScope scope;

    AsyncResult(MemoryScope scope) {
        this.scope = scope;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (!scope.abandonResult()) {
            return false;
        }
        boolean cancelled = super.cancel(mayInterruptIfRunning);
        scope.resultAbandoned();
        return cancelled;
    }

    @Override
    public boolean complete(T value) {
        if (!scope.abandonResult()) {
            return false;
        }
        boolean completed = super.complete(value);
        scope.resultAbandoned();
        return completed;
    }

    @Override
    public boolean completeExceptionally(Throwable ex) {
        Objects.requireNonNull(ex, "ex");
        if (!scope.abandonResult()) {
            return false;
        }
        boolean completed = super.completeExceptionally(ex);
        scope.resultAbandoned();
        return completed;
    }

    /** As {@link CompletableFuture#completeAsync}, through {@link #complete}/{@link #completeExceptionally}. */
    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier, Executor executor) {
        Objects.requireNonNull(supplier, "supplier");
        Objects.requireNonNull(executor, "executor");
        executor.execute(() -> {
            if (isDone()) {
                return;
            }
            T value;
            try {
                value = supplier.get();
            } catch (Throwable e) {
                completeExceptionally(e);
                return;
            }
            complete(value);
        });
        return this;
    }

    /** The scope's own completion with the work's value (after it has released its tensors). */
    @SuppressWarnings("unchecked")
    void completeFromScope(Object value) {
        super.complete((T) value);
    }

    /** The scope's own exceptional completion (after it has released its tensors). */
    void failFromScope(Throwable failure) {
        super.completeExceptionally(failure);
    }
}
