package org.tensorbuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A region of code whose tensors are released together when it ends, normally or by an exception: every
 * {@link Tensor} created on the thread while the scope is the innermost open one belongs to it, and
 * {@link #close()} releases each one's creation reference, except tensors passed to {@link #escape(Tensor)} (moved to
 * the enclosing scope, or out of all scopes at the outermost one) and the value returned from {@link #call}. This is
 * the scoped cleanup of the design notes (002 {@code enter_scope/exit_scope}, 003 {@code run}/{@code runAsync}/
 * {@code escape}) and of TensorFlow.js's {@code tidy}.
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
 * <p>Synchronous scopes ({@link #open}, {@link #run}, {@link #call}) nest per thread and must be closed innermost
 * first, on the thread that opened them (else {@link IllegalStateException}). A tensor may be closed early inside its
 * scope (the scope then skips it), retained (it then outlives the scope, which drops only the creation reference), and
 * read or used in ops from other threads; but closing it from another thread while its synchronous scope is open throws
 * {@link IllegalStateException}. Closing a scope twice does nothing. Not thread-safe: a synchronous scope belongs to the
 * thread that opened it (only an asynchronous child's result may be handed to it from another thread, see below).
 *
 * <p>Asynchronous scopes ({@link #callAsync}, {@link #runAsync}) belong to a piece of asynchronous work rather than to
 * a thread: the tensors the work creates stay alive until the future the body returned has completed (normally,
 * exceptionally or by cancellation) <em>and</em> no task of the scope is still running; then the scope releases them,
 * except the result and the tensors passed to {@link #escape}, which go to the enclosing scope, and only then is the
 * future {@code callAsync} returned completed. The scope is current on the calling thread while the body runs; work
 * on other threads joins it through an explicit handle: {@link #executor(Executor)} or {@link #wrap(Runnable)} /
 * {@link #wrap(Callable)} (virtual threads included). An asynchronous scope is thread-safe: any number of threads may
 * create, close and escape its tensors at once. See {@code docs/scopes.md} for the lifecycle as a timeline.
 *
 * <pre>{@code
 * CompletableFuture<Tensor> f = MemoryScope.callAsync(() -> {
 *     Executor ex = MemoryScope.current().executor(virtualThreads);     // tasks run in this scope
 *     CompletableFuture<Tensor> a = CompletableFuture.supplyAsync(() -> x.matmul(w1).silu(), ex);
 *     return a.thenApplyAsync(h -> h.matmul(w2), ex);                      // released at the end except the result
 * });
 * }</pre>
 *
 * <p>Propagation is by explicit handle on a thread-local stack, not {@link ScopedValue}: {@link #open()} with
 * try-with-resources needs a mutable per-thread current scope, which a {@code ScopedValue} (bound only for the extent
 * of a lambda) cannot express; {@code ScopedValue} bindings are inherited only by {@code StructuredTaskScope} forks,
 * and {@code StructuredTaskScope} is a preview API in JDK 25 (needs {@code --enable-preview}), so it would carry the
 * scope into no executor or {@code CompletableFuture} stage; and looking up two carriers on every tensor creation
 * would cost the synchronous hit path. With {@code --enable-preview}, fork {@link #wrap(Callable) wrapped} callables
 * into a {@code StructuredTaskScope}.
 *
 * <p>Cost: a tensor registers with a thread-local lookup and an array store (a monitor more in an asynchronous scope);
 * an early close clears its slot in O(1).
 */
public final class MemoryScope implements AutoCloseable {
    private static final ThreadLocal<MemoryScope> CURRENT = new ThreadLocal<>();
    /**
     * Whether a scope was ever made current on any thread of this JVM (set before the first {@code CURRENT.set} of
     * a new scope, never cleared): until then no thread has one, and {@link #register} skips the ThreadLocal lookup
     * it would otherwise make for every tensor created (a program that uses no scope, e.g. a decode, creates some
     * sixty a token; docs/benchmarks.md, issue 14, "Round 7").
     */
    private static volatile boolean used;
    /** {@link Tensor#scopeIndex} of a tensor its scope owns outside the table (an inbox or the escape list). */
    static final int NOT_IN_TABLE = Integer.MAX_VALUE;
    private static final Tensor[] NONE = new Tensor[0];

    private final MemoryScope parent;
    private final Thread thread;
    private final int depth;
    /** The state of an asynchronous scope (whose table is then guarded by this scope's monitor); null if synchronous. */
    private final AsyncSettlement async;
    private Tensor[] tensors = new Tensor[16];
    private int size;
    private int live;
    private volatile boolean open = true;
    /** Tensors handed to this synchronous scope from other threads (results of async children); created on demand. */
    private volatile ConcurrentLinkedQueue<Tensor> inbox;

    private MemoryScope(MemoryScope parent) {
        this.parent = parent;
        this.thread = Thread.currentThread();
        this.depth = parent == null ? 1 : parent.depth + 1;
        this.async = null;
    }

    private MemoryScope(MemoryScope parent, AsyncSettlement async) {
        this.parent = parent;
        this.thread = Thread.currentThread();
        this.depth = parent == null ? 1 : parent.depth + 1;
        this.async = async;
        async.result = new AsyncResult<>(this);
    }

    /** Opens a scope nested in the current thread's innermost one (if any); close it with try-with-resources. */
    public static MemoryScope open() {
        MemoryScope s = new MemoryScope(CURRENT.get());
        used = true;
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

    /**
     * Runs {@code body} on the calling thread in a new asynchronous scope nested in the current one, and returns a
     * future of the value its stage completes with. The scope owns every tensor created while it is current: by the
     * body itself, and by tasks run through {@link #executor(Executor)} or {@link #wrap(Runnable)} (get the handle
     * with {@link #current()} inside the body). When the body's stage has completed and no such task is still
     * running, the scope releases its tensors except the value's ({@link Tensor}, or the tensors of an
     * {@link Iterable} or array, as {@link #call}) and the {@link #escape escaped} ones, which go to the enclosing
     * scope (see {@link #escape}); only then is the returned future completed, with the same value or exception.
     * Exceptional completion and cancellation release everything, the escaped tensors included (nobody gets the
     * result they were escaped for). Cancelling the returned future cancels the body's
     * stage; tasks still running keep their tensors until they return. Once the scope has begun closing (it has
     * committed to the work's outcome), a cancel or outside completion of the returned future is refused and returns
     * {@code false}, as {@link java.util.concurrent.FutureTask#cancel} is while a task completes: the future then
     * completes with the work's outcome, and the caller owns the value's tensors.
     *
     * <p>An exception thrown by {@code body} itself completes the returned future exceptionally (as
     * {@link CompletableFuture#supplyAsync}); the scope's tensors are released.
     *
     * @param body runs once on the calling thread; returns the stage the scope waits for (not {@code null})
     * @return a future completed after the scope has released its tensors
     * @throws NullPointerException if {@code body} is {@code null}
     */
    public static <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> body) {
        return start(body, true, "callAsync");
    }

    /**
     * {@link #callAsync} for work whose value is not kept: every tensor the work creates and does not
     * {@link #escape} is released when it settles. The returned future completes (with {@code null}, or the work's
     * exception) after that; cancelling it cancels the body's stage.
     *
     * @throws NullPointerException if {@code body} is {@code null}
     */
    public static CompletableFuture<Void> runAsync(Supplier<? extends CompletionStage<?>> body) {
        return start(body, false, "runAsync");
    }

    @SuppressWarnings("unchecked")
    private static <T> CompletableFuture<T> start(Supplier<? extends CompletionStage<?>> body, boolean keepValue,
                                                  String method) {
        Objects.requireNonNull(body, "body");
        MemoryScope s = new MemoryScope(CURRENT.get(), new AsyncSettlement(keepValue));
        CompletableFuture<Object> result = s.async.result;
        CompletionStage<?> stage;
        s.tryEnter(); // a new scope is open
        MemoryScope prev = s.install();
        try {
            stage = body.get();
            if (stage == null) {
                throw new NullPointerException("MemoryScope." + method + ": the body returned null instead of a "
                        + "CompletionStage");
            }
        } catch (Throwable e) {
            s.exit(prev);
            s.settle(null, e, false);
            return (CompletableFuture<T>) (CompletableFuture<?>) result;
        }
        s.exit(prev);
        CompletableFuture<?> work = stage.toCompletableFuture();
        boolean abandoned;
        synchronized (s) {
            s.async.work = work;
            abandoned = s.async.abandoned; // the result was cancelled while the body ran
        }
        if (abandoned) {
            work.cancel(true);
        }
        work.whenComplete((v, e) -> s.settle(v, e, false));
        return (CompletableFuture<T>) (CompletableFuture<?>) result;
    }

    /** The current thread's innermost open scope (an asynchronous one while its body or tasks run), or {@code null}. */
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
        return s == null ? 0 : s.tensorCount();
    }

    /** Called for every new tensor: the innermost open scope of the thread takes it. */
    static void register(Tensor t) {
        if (!used) {
            return; // no thread has a scope (a thread sets the flag before its first scope, so it sees it set)
        }
        MemoryScope s = CURRENT.get();
        if (s != null) {
            s.add(t);
        }
    }

    /** Removes {@code t} from its scope, if any, without releasing it: the caller now manages it. */
    static void detach(Tensor t) {
        MemoryScope s = t.scope;
        if (s != null) {
            if (s.async != null) {
                synchronized (s) {
                    s.removeAnywhere(t);
                    t.scope = null;
                }
                return;
            }
            s.checkThread("detach a tensor from");
            s.remove(t);
            t.scope = null;
        }
    }

    // ----------------------------------------------------------------------------------------------- async handles

    /**
     * An executor that runs each task on {@code executor} inside this asynchronous scope (as {@link #wrap(Runnable)}):
     * the tensors the task creates belong to this scope, and the scope does not close while the task runs. For
     * virtual threads: {@code scope.executor(Executors.newVirtualThreadPerTaskExecutor())}.
     *
     * @throws IllegalStateException if this is a synchronous scope (its table belongs to one thread)
     */
    public Executor executor(Executor executor) {
        requireAsync("run tasks of another thread in");
        Objects.requireNonNull(executor, "executor");
        return task -> executor.execute(wrap(task));
    }

    /**
     * {@code task} made to run inside this asynchronous scope on whatever thread runs it: the scope is the thread's
     * current one for the duration (the thread's own scope is restored afterwards), tensors created meanwhile belong
     * to it, nested {@link #open}/{@link #call}/{@link #callAsync} scopes nest in it, and the scope does not close
     * before the task returns.
     *
     * <p>A task that starts after the scope has closed (a stage left over from cancelled work, say) still runs, so
     * that no {@code CompletableFuture} chain hangs, but in a synchronous scope of its own: everything it creates is
     * released when it returns, and a tensor of the closed scope it touches throws the use-after-release
     * {@link IllegalStateException} naming the scope.
     *
     * @throws IllegalStateException if this is a synchronous scope
     */
    public Runnable wrap(Runnable task) {
        requireAsync("run tasks of another thread in");
        Objects.requireNonNull(task, "task");
        return () -> {
            if (!tryEnter()) {
                run(task);
                return;
            }
            MemoryScope prev = install();
            try {
                task.run();
            } finally {
                exit(prev);
            }
        };
    }

    /**
     * {@link #wrap(Runnable)} for a task with a value ({@code ExecutorService.submit}, {@code StructuredTaskScope.fork}).
     * After the scope has closed the task runs in a synchronous scope of its own that releases everything, its value's
     * tensors included.
     */
    public <T> Callable<T> wrap(Callable<T> task) {
        requireAsync("run tasks of another thread in");
        Objects.requireNonNull(task, "task");
        return () -> {
            if (!tryEnter()) {
                try (MemoryScope own = open()) {
                    return task.call();
                }
            }
            MemoryScope prev = install();
            try {
                return task.call();
            } finally {
                exit(prev);
            }
        };
    }

    /**
     * A future completed once this asynchronous scope has released its tensors, however its work ended (also after
     * a cancellation, when the tasks still running have returned).
     *
     * @throws IllegalStateException for a synchronous scope (it closes in {@link #close()} on its thread)
     */
    public CompletableFuture<Void> whenClosed() {
        requireAsync("wait for");
        return async.closed.copy();
    }

    /** Whether this scope belongs to asynchronous work ({@link #callAsync}, {@link #runAsync}). */
    public boolean isAsync() {
        return async != null;
    }

    private void requireAsync(String what) {
        if (async == null) {
            throw new IllegalStateException("cannot " + what + " " + this + ": it is a synchronous scope, bound to "
                    + "its thread; use MemoryScope.callAsync for work on other threads");
        }
    }

    /** Counts one more task inside this asynchronous scope, unless it has closed. */
    private synchronized boolean tryEnter() {
        if (!open) {
            return false;
        }
        async.active++;
        return true;
    }

    /** Makes this scope current on the calling thread; returns the scope to restore in {@link #exit}. */
    private MemoryScope install() {
        MemoryScope prev = CURRENT.get();
        used = true;
        CURRENT.set(this);
        return prev;
    }

    private void exit(MemoryScope prev) {
        if (prev == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(prev);
        }
        boolean closeNow;
        synchronized (this) {
            closeNow = --async.active == 0 && async.done && open;
            if (closeNow) {
                open = false;
            }
        }
        if (closeNow) {
            closeAsync();
        }
    }

    /** Records how the work ended; closes the scope now if no task runs in it, else the last one to return does. */
    private void settle(Object value, Throwable failure, boolean abandoned) {
        boolean closeNow;
        synchronized (this) {
            if (async.done) {
                return;
            }
            async.done = true;
            async.value = value;
            async.failure = failure;
            async.abandoned |= abandoned; // a cancel that raced with a normal settlement stays a cancel
            closeNow = async.active == 0 && open;
            if (closeNow) {
                open = false;
            }
        }
        if (closeNow) {
            closeAsync();
        }
    }

    /**
     * Called by {@link AsyncResult} before someone other than this scope completes the result future (cancels it,
     * mostly): marks the work abandoned, so that nothing escapes when the scope closes, and returns {@code true};
     * returns {@code false} (refused) if the scope has already committed to its outcome in {@link #closeAsync}.
     */
    synchronized boolean abandonResult() {
        if (async.completing) {
            return false;
        }
        async.abandoned = true;
        return true;
    }

    /** After an outside completion of the result future: cancels the work and settles the scope as abandoned. */
    void resultAbandoned() {
        CompletableFuture<?> work;
        synchronized (this) {
            work = async.work;
        }
        if (work != null) {
            work.cancel(true);
        }
        settle(null, null, true);
    }

    /**
     * Closes an asynchronous scope whose {@link #open} flag the caller has just cleared: hands the value's and the
     * escaped tensors to the enclosing scope, releases the rest, then completes the futures.
     */
    private void closeAsync() {
        AsyncSettlement st = async;
        List<Tensor> keep;
        Tensor[] table;
        int n;
        boolean succeeded;
        boolean abandoned;
        synchronized (this) {
            st.completing = true; // committed: from here on an outside cancel or completion of the result is refused
            abandoned = st.abandoned;
            succeeded = st.failure == null && !abandoned;
            keep = new ArrayList<>(st.escapees);
            st.escapees.clear();
            if (succeeded && st.keepValue) {
                collectResult(st.value, keep);
            }
            table = tensors;
            n = size;
            tensors = NONE;
            size = 0;
            live = 0;
        }
        if (succeeded) {
            for (Tensor t : keep) {
                if (t.scope == this) {
                    if (t.refCnt() > 0 && parent != null) {
                        parent.adopt(t);
                    } else {
                        t.scope = null;
                    }
                }
            }
        } else { // failed or cancelled: the escaped tensors were for a result nobody will get
            table = Arrays.copyOf(table, n + keep.size());
            for (Tensor t : keep) {
                table[n++] = t;
            }
        }
        RuntimeException releaseFailure = null;
        for (int i = 0; i < n; i++) {
            Tensor t = table[i];
            if (t == null || t.scope != this) {
                continue; // a free slot, or closed early / detached meanwhile
            }
            t.scope = null;
            try {
                if (t.refCnt() > 0) {
                    t.release();
                }
            } catch (RuntimeException e) {
                if (releaseFailure == null) {
                    releaseFailure = e;
                } else {
                    releaseFailure.addSuppressed(e);
                }
            }
            if (t.isClosed()) {
                t.scope = this; // a later use says which scope released it
            }
        }
        // if the result was abandoned, whoever did it completes it (their cancel or completion came before the commit)
        if (!abandoned) {
            if (st.failure != null) {
                if (releaseFailure != null) {
                    st.failure.addSuppressed(releaseFailure);
                }
                st.result.failFromScope(st.failure);
            } else if (releaseFailure != null) {
                st.result.failFromScope(releaseFailure);
            } else {
                st.result.completeFromScope(st.keepValue ? st.value : null);
            }
        }
        st.closed.complete(null);
    }

    /** Takes the tensors of the work's value this scope owns out of the table into {@code keep} (under the lock). */
    private void collectResult(Object value, List<Tensor> keep) {
        if (value instanceof Tensor t) {
            collectOne(t, keep);
        } else if (value instanceof Iterable<?> it) {
            for (Object o : it) {
                if (o instanceof Tensor t) {
                    collectOne(t, keep);
                }
            }
        } else if (value instanceof Object[] a) {
            for (Object o : a) {
                if (o instanceof Tensor t) {
                    collectOne(t, keep);
                }
            }
        }
    }

    private void collectOne(Tensor t, List<Tensor> keep) {
        if (t.scope == this && t.scopeIndex != NOT_IN_TABLE) {
            remove(t);
            t.scopeIndex = NOT_IN_TABLE;
            keep.add(t);
        }
    }

    // ----------------------------------------------------------------------------------------------- escape

    /**
     * Moves {@code t} out of this scope so that its {@link #close()} does not release it. From a synchronous scope
     * it goes to the enclosing scope at once (or out of all scopes when this is the outermost one). From an
     * asynchronous scope (callable on any thread) it stays alive and is handed over when the scope closes: to the
     * enclosing scope if that is an open asynchronous one, or a synchronous one that is still open (adopted from any
     * thread, released when that scope closes); otherwise it leaves all scopes and whoever holds it closes it. If
     * the asynchronous work fails or is cancelled, escaped tensors are released with the rest. Escaping an already
     * escaped tensor of an asynchronous scope does nothing.
     *
     * @return {@code t}
     * @throws IllegalStateException    if the scope is closed, or it is synchronous and this is not its thread
     * @throws IllegalArgumentException if this scope does not own {@code t}
     */
    public Tensor escape(Tensor t) {
        if (async != null) {
            return escapeShared(t);
        }
        checkThread("escape a tensor from");
        if (!open) {
            throw new IllegalStateException("cannot escape " + t + " from a closed scope");
        }
        requireOwned(t);
        remove(t);
        if (parent == null) {
            t.scope = null;
        } else if (parent.async == null) {
            parent.add(t); // a synchronous parent is on this thread and open (scopes close innermost first)
        } else {
            parent.adopt(t);
        }
        return t;
    }

    private synchronized Tensor escapeShared(Tensor t) {
        if (!open) {
            throw new IllegalStateException("cannot escape " + t + " from a closed scope");
        }
        requireOwned(t);
        if (t.scopeIndex != NOT_IN_TABLE) {
            remove(t);
            t.scopeIndex = NOT_IN_TABLE;
            async.escapees.add(t);
        }
        return t;
    }

    private void requireOwned(Tensor t) {
        if (t.scope != this) {
            throw new IllegalArgumentException("cannot escape " + t + ": it is not owned by this scope (depth "
                    + depth + ")" + (t.scope == null ? "; it belongs to no scope"
                    : "; it belongs to the scope at depth " + t.scope.depth));
        }
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

    /**
     * Takes {@code t}, which no scope holds in a table any more, from any thread; if this scope cannot (it is
     * closed), {@code t} leaves all scopes.
     */
    private void adopt(Tensor t) {
        if (async != null) {
            synchronized (this) {
                if (open) {
                    addLocked(t);
                    return;
                }
            }
            t.scope = null;
        } else if (Thread.currentThread() == thread) {
            if (open) {
                add(t);
            } else {
                t.scope = null;
            }
        } else {
            adoptFromOtherThread(t);
        }
    }

    /**
     * Puts {@code t} in this synchronous scope's inbox, which its thread drains. The scope's {@link #close()} clears
     * {@link #open} before it reads {@link #inbox}, and this method publishes the inbox entry before it reads
     * {@link #open} (all volatile), so either the close sees the entry and releases it, or this method sees the scope
     * closed and takes the entry back (the queue's {@code remove} decides who wins).
     */
    private void adoptFromOtherThread(Tensor t) {
        if (!open) {
            t.scope = null;
            return;
        }
        ConcurrentLinkedQueue<Tensor> q = inbox;
        if (q == null) {
            synchronized (this) {
                q = inbox;
                if (q == null) {
                    q = new ConcurrentLinkedQueue<>();
                    inbox = q;
                }
            }
        }
        t.scope = this;
        t.scopeIndex = NOT_IN_TABLE;
        q.add(t);
        if (!open && q.remove(t)) {
            t.scope = null;
        }
    }

    /** On this synchronous scope's thread: moves what other threads handed over into the table. */
    private void drainInbox() {
        ConcurrentLinkedQueue<Tensor> q = inbox;
        if (q != null && open && Thread.currentThread() == thread) {
            for (Tensor t = q.poll(); t != null; t = q.poll()) {
                if (t.scope == this && t.scopeIndex == NOT_IN_TABLE && t.refCnt() > 0) {
                    add(t);
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------------- table

    private void add(Tensor t) {
        if (async != null) {
            addShared(t);
            return;
        }
        addLocked(t);
    }

    /** {@link #add} for an asynchronous scope, from any thread; a closed one takes nothing (the creator owns it). */
    private void addShared(Tensor t) {
        synchronized (this) {
            if (open) {
                addLocked(t);
                return;
            }
        }
        t.scope = null;
    }

    /** Appends {@code t} to the table (on the scope's thread, or under the monitor of an asynchronous scope). */
    private void addLocked(Tensor t) {
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

    /** {@link #remove} for an asynchronous scope (under its monitor), also from the escape list. */
    private void removeAnywhere(Tensor t) {
        if (t.scopeIndex == NOT_IN_TABLE) {
            async.escapees.remove(t);
        } else {
            remove(t);
        }
    }

    /** Called by {@link Tensor} when its creation reference is released (an early close, or the last release). */
    void forget(Tensor t) {
        if (async != null) {
            forgetShared(t);
        } else if (open && Thread.currentThread() == thread) {
            remove(t);
        }
        t.scope = null;
    }

    private synchronized void forgetShared(Tensor t) {
        if (open && t.scope == this) {
            removeAnywhere(t);
        }
    }

    /**
     * Throws if the calling thread may not drop {@code t}'s last reference: another thread's open synchronous scope
     * owns it. Any thread may close a tensor of an asynchronous scope.
     */
    void checkRelease(Tensor t) {
        if (async == null && open && thread != Thread.currentThread()) {
            throw new IllegalStateException("cannot close " + t + " on thread '" + Thread.currentThread().getName()
                    + "': it belongs to an open MemoryScope of thread '" + thread.getName()
                    + "' (use it there, or escape it from that scope first)");
        }
    }

    /** For the message of a use after release: which scope released the tensor, if one did. */
    static String releasedBy(MemoryScope s) {
        if (s == null || s.open || s.async == null) {
            return "";
        }
        return "; it was released when its asynchronous " + s + " settled (escape or retain() a tensor that is "
                + "used after the scope's work completes)";
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
     * Synchronous scope: releases the creation reference of every tensor this scope still owns (including results
     * of asynchronous children handed over from other threads) and makes the enclosing scope current. Every tensor is
     * attempted; the first failure is thrown afterwards with the others suppressed. Does nothing if already closed.
     *
     * <p>Asynchronous scope: closing before the work has settled releases nothing (tensors still used by running
     * stages stay valid); the scope closes by itself when the work settles and its last task returns. Callable from
     * any thread; use {@link #whenClosed()} to wait.
     *
     * @throws IllegalStateException if a synchronous scope is closed on another thread, or while a scope nested in it
     *                               is still open
     */
    @Override
    public void close() {
        if (!open) {
            return;
        }
        if (async != null) {
            requestClose();
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
        ConcurrentLinkedQueue<Tensor> q = inbox;
        if (q != null) {
            failure = releaseInbox(q, failure);
        }
        if (failure != null) {
            throw failure;
        }
    }

    private synchronized void requestClose() {
        async.closeRequested = true;
    }

    private RuntimeException releaseInbox(ConcurrentLinkedQueue<Tensor> q, RuntimeException failure) {
        for (Tensor t = q.poll(); t != null; t = q.poll()) {
            if (t.scope != this) {
                continue; // closed early or escaped meanwhile
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
        return failure;
    }

    /** Whether the scope is still open (for an asynchronous scope: its work has not settled, or a task still runs). */
    public boolean isOpen() {
        return open;
    }

    /** The thread that opened the scope (for an asynchronous scope, the one that called {@link #callAsync}). */
    public Thread thread() {
        return thread;
    }

    /** Nesting depth, 1 for an outermost scope. */
    public int depth() {
        return depth;
    }

    /**
     * Tensors this scope owns and has not released (for an asynchronous scope, not counting escaped ones; for a
     * synchronous one, counting results handed over by asynchronous children once read on its thread).
     */
    public int tensorCount() {
        if (async != null) {
            synchronized (this) {
                return live;
            }
        }
        drainInbox();
        return live;
    }

    /** The enclosing scope, or {@code null}. */
    public MemoryScope parent() {
        return parent;
    }

    @Override
    public String toString() {
        if (async != null) {
            synchronized (this) {
                return "MemoryScope[depth " + depth + ", async, " + live + " tensors, " + async.active
                        + " tasks running" + (open ? (async.done ? ", settled" : "")
                        + (async.closeRequested ? ", close requested" : "") : ", closed") + "]";
            }
        }
        return "MemoryScope[depth " + depth + ", " + live + " tensors, thread '" + thread.getName() + "'"
                + (open ? "" : ", closed") + "]";
    }
}
