package org.tensorbuffer;

import java.util.Arrays;
import java.util.function.Supplier;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A region of code whose tensors are released together when it ends, normally or by an exception: every
 * {@link Tensor} created on the thread while the scope is the innermost open one belongs to it, and
 * {@link #close()} releases each one's creation reference, except tensors passed to {@link #escape(Tensor)} (moved to
 * the enclosing scope, or out of all scopes at the outermost one) and the value returned from {@link #call}. This is
 * the scoped cleanup of the design notes (002 {@code enter_scope/exit_scope}, 003 {@code run}/{@code escape}) and of
 * TensorFlow.js's {@code tidy}.
 *
 * <pre>{@code
 * Tensor y = MemoryScope.call(() -> {
 *     Tensor h = x.matmul(w1).silu();       // released when the scope ends
 *     return h.matmul(w2);                  // returned: escapes to the enclosing scope
 * });
 * try (MemoryScope scope = MemoryScope.open()) {
 *     Tensor kept = scope.escape(ctx.zeros(Shape.of(4), DType.F32));
 * }
 * }</pre>
 *
 * <p>Rules: scopes nest per thread and must be closed innermost first, on the thread that opened them (else
 * {@link IllegalStateException}). A tensor may be closed early inside its scope (the scope then skips it), retained
 * (it then outlives the scope, which drops only the creation reference), and read or used in ops from other threads;
 * but closing it from another thread while its scope is open throws {@link IllegalStateException}. Closing a scope
 * twice does nothing.
 *
 * <p>Cost: a tensor registers with a thread-local lookup and an array store; an early close clears its slot in O(1).
 *
 * <p>Not thread-safe: a scope belongs to the thread that opened it.
 */
public final class MemoryScope implements AutoCloseable {
    private static final ThreadLocal<MemoryScope> CURRENT = new ThreadLocal<>();

    private final MemoryScope parent;
    private final Thread thread;
    private final int depth;
    private Tensor[] tensors = new Tensor[16];
    private int size;
    private int live;
    private volatile boolean open = true;

    private MemoryScope(MemoryScope parent) {
        this.parent = parent;
        this.thread = Thread.currentThread();
        this.depth = parent == null ? 1 : parent.depth + 1;
    }

    /** Opens a scope nested in the current thread's innermost one (if any); close it with try-with-resources. */
    public static MemoryScope open() {
        MemoryScope s = new MemoryScope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /** Runs {@code body} in a new scope; every tensor it creates and does not escape is released afterwards. */
    public static void run(Runnable body) {
        try (MemoryScope s = open()) {
            body.run();
        }
    }

    /**
     * Runs {@code body} in a new scope and returns its result, which escapes to the enclosing scope: a
     * {@link Tensor}, or the tensors in a returned {@link Iterable} or array, if this scope owns them. Everything
     * else created inside is released, also when {@code body} throws.
     */
    public static <T> T call(Supplier<T> body) {
        try (MemoryScope s = open()) {
            T result = body.get();
            s.escapeResult(result);
            return result;
        }
    }

    /** The current thread's innermost open scope, or {@code null}. */
    public static MemoryScope current() {
        return CURRENT.get();
    }

    /** Whether the current thread is inside a scope. */
    public static boolean inScope() {
        return CURRENT.get() != null;
    }

    /** Nesting depth of the current thread's scopes (0 outside any scope). */
    public static int scopeDepth() {
        MemoryScope s = CURRENT.get();
        return s == null ? 0 : s.depth;
    }

    /** Tensors the current thread's innermost scope owns and has not released (0 outside any scope). */
    public static int scopeTensorCount() {
        MemoryScope s = CURRENT.get();
        return s == null ? 0 : s.live;
    }

    /** Called for every new tensor: the innermost open scope of the thread takes it. */
    static void register(Tensor t) {
        MemoryScope s = CURRENT.get();
        if (s != null) {
            s.add(t);
        }
    }

    /** Removes {@code t} from its scope, if any, without releasing it: the caller now manages it. */
    static void detach(Tensor t) {
        MemoryScope s = t.scope;
        if (s != null) {
            s.checkThread("detach a tensor from");
            s.remove(t);
            t.scope = null;
        }
    }

    /**
     * Moves {@code t} to the enclosing scope (or out of all scopes when this is the outermost one), so this scope's
     * {@link #close()} does not release it.
     *
     * @return {@code t}
     * @throws IllegalStateException    if the scope is closed or this is not its thread
     * @throws IllegalArgumentException if this scope does not own {@code t}
     */
    public Tensor escape(Tensor t) {
        checkThread("escape a tensor from");
        if (!open) {
            throw new IllegalStateException("cannot escape " + t + " from a closed scope");
        }
        if (t.scope != this) {
            throw new IllegalArgumentException("cannot escape " + t + ": it is not owned by this scope (depth "
                    + depth + ")" + (t.scope == null ? "; it belongs to no scope"
                    : "; it belongs to the scope at depth " + t.scope.depth));
        }
        remove(t);
        if (parent != null) {
            parent.add(t);
        } else {
            t.scope = null;
        }
        return t;
    }

    private void escapeResult(Object result) {
        if (result instanceof Tensor t) {
            if (t.scope == this) {
                escape(t);
            }
        } else if (result instanceof Iterable<?> it) {
            for (Object o : it) {
                if (o instanceof Tensor t && t.scope == this) {
                    escape(t);
                }
            }
        } else if (result instanceof Object[] a) {
            for (Object o : a) {
                if (o instanceof Tensor t && t.scope == this) {
                    escape(t);
                }
            }
        }
    }

    private void add(Tensor t) {
        if (size == tensors.length) {
            compactOrGrow();
        }
        t.scope = this;
        t.scopeIndex = size;
        tensors[size++] = t;
        live++;
    }

    private void remove(Tensor t) {
        int i = t.scopeIndex;
        if (i < size && tensors[i] == t) {
            tensors[i] = null;
            live--;
        }
    }

    /** Called by {@link Tensor} when its last reference is released. */
    void forget(Tensor t) {
        if (open && Thread.currentThread() == thread) {
            remove(t);
        }
        t.scope = null;
    }

    private void compactOrGrow() {
        if (live <= size / 2) {
            int j = 0;
            for (int i = 0; i < size; i++) {
                Tensor t = tensors[i];
                if (t != null) {
                    t.scopeIndex = j;
                    tensors[j++] = t;
                }
            }
            Arrays.fill(tensors, j, size, null);
            size = j;
        } else {
            tensors = Arrays.copyOf(tensors, tensors.length * 2);
        }
    }

    private void checkThread(String what) {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("cannot " + what + " a MemoryScope of thread '" + thread.getName()
                    + "' on thread '" + Thread.currentThread().getName() + "'");
        }
    }

    /**
     * Releases the creation reference of every tensor this scope still owns and makes the enclosing scope current.
     * Every tensor is attempted; the first failure is thrown afterwards with the others suppressed. Does nothing if
     * already closed.
     *
     * @throws IllegalStateException if called on another thread, or while a scope nested in this one is still open
     */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        checkThread("close");
        MemoryScope cur = CURRENT.get();
        if (cur != this) {
            throw new IllegalStateException("cannot close the MemoryScope at depth " + depth
                    + " while the scope at depth " + (cur == null ? 0 : cur.depth)
                    + " nested in it is still open (close scopes innermost first)");
        }
        open = false;
        if (parent == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(parent);
        }
        RuntimeException failure = null;
        for (int i = 0; i < size; i++) {
            Tensor t = tensors[i];
            tensors[i] = null;
            if (t == null) {
                continue;
            }
            t.scope = null;
            try {
                if (t.refCnt() > 0) {
                    t.release();
                }
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        size = 0;
        live = 0;
        if (failure != null) {
            throw failure;
        }
    }

    /** Whether the scope is still open. */
    public boolean isOpen() {
        return open;
    }

    /** The thread that opened the scope. */
    public Thread thread() {
        return thread;
    }

    /** Nesting depth, 1 for an outermost scope. */
    public int depth() {
        return depth;
    }

    /** Tensors this scope owns and has not released. */
    public int tensorCount() {
        return live;
    }

    /** The enclosing scope, or {@code null}. */
    public MemoryScope parent() {
        return parent;
    }

    @Override
    public String toString() {
        return "MemoryScope[depth " + depth + ", " + live + " tensors, thread '" + thread.getName() + "'"
                + (open ? "" : ", closed") + "]";
    }
}
