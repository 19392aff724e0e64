package org.tensorbuffer.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A small fixed team of worker threads that runs the parts of one kernel call ({@link CpuKernels}' row-split GEMV
 * and head-split attention). The calling thread and the workers take parts from a shared counter, one at a time,
 * until none is left (dynamic scheduling, as OpenMP's {@code schedule(dynamic)}), so a worker that starts late or
 * loses its CPU to another process leaves its parts to the others instead of holding the call up. The hand-off is a
 * shared job reference instead of a task queue: workers that finished a call spin on it for a bounded time
 * ({@link Thread#onSpinWait()}), then park, so a decode's 50-70 parallel regions per token reach running workers
 * without a wake-up system call, while workers idle after the decode stop using the CPU within the spin bound. This
 * is the wait policy of OpenMP runtimes between parallel regions: libgomp spins {@code GOMP_SPINCOUNT} (300,000
 * iterations by default when {@code OMP_WAIT_POLICY} is unset; 100 when there are more threads than CPUs) before it
 * sleeps on a futex (GCC libgomp manual, "GOMP_SPINCOUNT" and "OMP_WAIT_POLICY").
 *
 * <p>Spin bound: the system property {@code tensorbuffer.cpu.spinMicros} (default {@value #DEFAULT_SPIN_MICROS}
 * microseconds; 0 parks at once), and only a few spins when the team has more threads than the machine has
 * processors. A worker parked for {@value #KEEP_ALIVE_SECONDS} s without work ends; the next call starts it again.
 * Workers are daemon threads named {@code tensorbuffer-kernel-<i>}.
 *
 * <p>Which thread runs a part depends on timing, so a part's result must not depend on its thread (each part of the
 * kernels computes its own rows or heads with the same code whatever thread runs it, which keeps results bitwise
 * identical for every thread count). Thread-safe: one call uses the team at a time; a call that finds it busy
 * (another thread, or a part calling back into the kernels) runs all its parts on its own thread, in order.
 */
final class KernelTeam {
    static final long DEFAULT_SPIN_MICROS = 100;
    static final long KEEP_ALIVE_SECONDS = 60;
    private static final int RUNNING = 0;
    private static final int PARKED = 1;
    private static final int DEAD = 2;
    /** Spins between clock reads (a read of {@link System#nanoTime} costs more than one {@code PAUSE}). */
    private static final int SPINS_PER_CHECK = 64;
    /** Spins only, without a clock, when the team is larger than the machine (libgomp's 100). */
    private static final int OVERSUBSCRIBED_SPINS = 100;

    /** One call's parts; a new object per call, so that a worker late for one call cannot take the next one's. */
    private static final class Job {
        final IntConsumer body;
        final int parts;
        /** The next part to take. */
        final AtomicInteger next = new AtomicInteger();
        /** Parts ended (normally or not). */
        final AtomicInteger done = new AtomicInteger();
        volatile Thread waiter;
        volatile Throwable failure;

        Job(IntConsumer body, int parts) {
            this.body = body;
            this.parts = parts;
        }
    }

    private final int size;
    private final long spinNanos;
    private final boolean oversubscribed;
    private final AtomicBoolean busy = new AtomicBoolean();
    /** Per worker (index 1..size-1): RUNNING (working or spinning), PARKED or DEAD (no thread). */
    private final AtomicIntegerArray state;
    private final Thread[] threads;
    private volatile Job job;

    /**
     * A team of {@code size} threads counting the caller; workers start on first use.
     *
     * @param size       threads per call, at least 2
     * @param spinMicros how long an idle worker or the waiting caller spins before parking, in microseconds (>= 0)
     */
    KernelTeam(int size, long spinMicros) {
        if (size < 2 || spinMicros < 0) {
            throw new IllegalArgumentException("kernel team: need size >= 2 and spinMicros >= 0, got size=" + size
                    + " spinMicros=" + spinMicros);
        }
        this.size = size;
        this.spinNanos = TimeUnit.MICROSECONDS.toNanos(spinMicros);
        this.oversubscribed = size > Runtime.getRuntime().availableProcessors();
        this.state = new AtomicIntegerArray(size);
        for (int i = 1; i < size; i++) {
            state.set(i, DEAD);
        }
        this.threads = new Thread[size];
    }

    /**
     * The spin bound of the system property {@code tensorbuffer.cpu.spinMicros}, in microseconds.
     *
     * @throws IllegalArgumentException if it is set to something other than a non-negative integer
     */
    static long spinMicrosFromSystemProperty() {
        String v = System.getProperty("tensorbuffer.cpu.spinMicros");
        if (v == null || v.isBlank()) {
            return DEFAULT_SPIN_MICROS;
        }
        try {
            long s = Long.parseLong(v.trim());
            if (s >= 0) {
                return s;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("tensorbuffer.cpu.spinMicros: need a non-negative integer, got '" + v + "'");
    }

    /** Threads per call at most, counting the caller. */
    int size() {
        return size;
    }

    /** The spin bound in microseconds. */
    long spinMicros() {
        return TimeUnit.NANOSECONDS.toMicros(spinNanos);
    }

    /**
     * Runs {@code body.accept(0) .. body.accept(parts - 1)}, each part once, on the calling thread and up to
     * {@code min(size, parts) - 1} workers, and returns when all have ended. A part's exception is rethrown here (the
     * first one, after every part has ended); a checked one wrapped in a {@link RuntimeException}.
     *
     * @param parts at least 1
     */
    void run(int parts, IntConsumer body) {
        if (parts < 1) {
            throw new IllegalArgumentException("kernel team: cannot run " + parts + " parts");
        }
        if (parts == 1 || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < parts; i++) {
                body.accept(i);
            }
            return;
        }
        Job j = new Job(body, parts);
        try {
            job = j;
            for (int w = 1, n = Math.min(size, parts); w < n; w++) {
                wake(w);
            }
            take(j);
            awaitParts(j);
        } finally {
            busy.set(false);
        }
        Throwable t = j.failure;
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new RuntimeException(t);
        }
    }

    /** Takes and runs parts of {@code j} until none is left. */
    private static void take(Job j) {
        int p;
        while ((p = j.next.getAndIncrement()) < j.parts) {
            try {
                j.body.accept(p);
            } catch (Throwable t) {
                fail(j, t);
            }
            if (j.done.incrementAndGet() == j.parts) {
                Thread waiter = j.waiter;
                if (waiter != null) {
                    LockSupport.unpark(waiter);
                }
            }
        }
    }

    /** Makes worker {@code w} see the new job: nothing if it is spinning or working, unpark or start it otherwise. */
    private void wake(int w) {
        while (true) {
            int s = state.get(w);
            if (s == RUNNING) {
                return; // spinning or about to look at the job again (it reads the job after leaving PARKED)
            }
            if (state.compareAndSet(w, s, RUNNING)) {
                if (s == PARKED) {
                    LockSupport.unpark(threads[w]);
                } else {
                    Thread t = new Thread(() -> work(w), "tensorbuffer-kernel-" + w);
                    t.setDaemon(true);
                    threads[w] = t;
                    t.start();
                }
                return;
            }
        }
    }

    /** Waits until every part of {@code j} has ended (parts taken by workers may still run). */
    private void awaitParts(Job j) {
        if (j.done.get() == j.parts || spinUntil(() -> j.done.get() == j.parts)) {
            return;
        }
        j.waiter = Thread.currentThread();
        while (j.done.get() != j.parts) {
            LockSupport.park(this);
        }
    }

    private static void fail(Job j, Throwable t) {
        synchronized (j) {
            if (j.failure == null) {
                j.failure = t;
            }
        }
    }

    /** Spins until {@code done} holds or the spin bound passes; true if it holds. */
    private boolean spinUntil(java.util.function.BooleanSupplier done) {
        if (oversubscribed || spinNanos == 0) {
            for (int i = 0; i < (spinNanos == 0 ? 0 : OVERSUBSCRIBED_SPINS); i++) {
                if (done.getAsBoolean()) {
                    return true;
                }
                Thread.onSpinWait();
            }
            return done.getAsBoolean();
        }
        long start = System.nanoTime();
        while (true) {
            for (int i = 0; i < SPINS_PER_CHECK; i++) {
                if (done.getAsBoolean()) {
                    return true;
                }
                Thread.onSpinWait();
            }
            if (System.nanoTime() - start > spinNanos) {
                return done.getAsBoolean();
            }
        }
    }

    /** Worker {@code w}'s loop: take parts of each new job, spin, park, end after the keep-alive. */
    private void work(int w) {
        Job seen = null;
        while (true) {
            Job j = job;
            if (j != seen) {
                seen = j;
                take(j);
                continue;
            }
            Job last = seen;
            if (spinUntil(() -> job != last)) {
                continue;
            }
            // Park: announce it first, then look again (the caller sets the job, then reads the state).
            state.set(w, PARKED);
            if (job != seen) {
                state.compareAndSet(w, PARKED, RUNNING);
                continue;
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(KEEP_ALIVE_SECONDS);
            while (state.get(w) == PARKED) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    if (state.compareAndSet(w, PARKED, DEAD)) {
                        return;
                    }
                    break;
                }
                LockSupport.parkNanos(this, left);
            }
        }
    }
}
