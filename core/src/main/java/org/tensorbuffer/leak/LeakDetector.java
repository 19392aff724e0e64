package org.tensorbuffer.leak;

import java.lang.ref.Cleaner;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds tensors that were never closed, after Netty's {@code ResourceLeakDetector}: a tracked resource that becomes
 * unreachable while still open is reported once, through the logger at WARN with the stack of its allocation site,
 * and its memory is given back by a {@link Cleaner}, so a leak costs a warning, not memory.
 *
 * <h2>Levels</h2>
 * <ul>
 *   <li>{@link Level#DISABLED}: nothing is tracked (one volatile read per allocation).</li>
 *   <li>{@link Level#SAMPLED} (the default): one allocation in {@link #samplingInterval()} (default 128, Netty's
 *       figure) is tracked, with its stack. An untracked leaked tensor keeps its memory until its pool is closed
 *       and the tensor is garbage-collected.</li>
 *   <li>{@link Level#PARANOID}: every allocation is tracked with its stack (for tests and debugging; costs a stack
 *       walk and a Cleaner registration per tensor).</li>
 * </ul>
 * The initial level comes from the system property {@code tensorbuffer.leakDetection.level} or the environment
 * variable {@code TENSORBUFFER_LEAK_DETECTION} ({@code disabled}, {@code sampled}, {@code paranoid}); the interval
 * from {@code tensorbuffer.leakDetection.samplingInterval}.
 *
 * <p>Besides unreachable tensors, allocators report buffers still handed out when they are closed
 * ({@link #reportOutstanding}), like Arrow's "memory leaked" message. Every report goes to the log and to the
 * listeners added with {@link #addListener}.
 *
 * <p>Caveat (shared with every Cleaner-based detector): a leaked tensor's memory may be returned while the last
 * method called on it is still running, if the JIT has already found the tensor unreachable; only tensors that are
 * never closed are exposed to this. Close your tensors.
 *
 * <p>Thread-safe; all state is static.
 */
public final class LeakDetector {
    private static final Logger LOG = LoggerFactory.getLogger(LeakDetector.class);
    private static final Cleaner CLEANER = Cleaner.create();
    private static final CopyOnWriteArrayList<Consumer<LeakReport>> LISTENERS = new CopyOnWriteArrayList<>();
    private static final AtomicLong TRACKED = new AtomicLong();
    private static final AtomicLong LEAKS = new AtomicLong();
    private static final AtomicLong LEAKED_BYTES = new AtomicLong();
    private static volatile Level level = initialLevel();
    private static volatile int samplingInterval = Integer.getInteger("tensorbuffer.leakDetection.samplingInterval",
            128);

    /**
     * The level the system property or environment variable asks for; an unknown name is logged at WARN and the
     * default ({@link Level#SAMPLED}) used, so that a typo cannot make this class (and every allocation) fail to load.
     * Command-line tools check the setting first with {@link #configuredLevel()} to refuse it with a clear message.
     */
    private static Level initialLevel() {
        try {
            return configuredLevel();
        } catch (IllegalArgumentException e) {
            LOG.warn("{}; using sampled", e.getMessage());
            return Level.SAMPLED;
        }
    }

    /**
     * The level set by the system property {@code tensorbuffer.leakDetection.level} or else the environment variable
     * {@code TENSORBUFFER_LEAK_DETECTION}, or {@link Level#SAMPLED} if neither is set.
     *
     * @throws IllegalArgumentException naming the setting and its value if it is not a level name
     */
    public static Level configuredLevel() {
        String prop = System.getProperty("tensorbuffer.leakDetection.level");
        String name = prop != null ? "tensorbuffer.leakDetection.level" : "TENSORBUFFER_LEAK_DETECTION";
        String value = prop != null ? prop : System.getenv("TENSORBUFFER_LEAK_DETECTION");
        if (value == null) {
            return Level.SAMPLED;
        }
        try {
            return Level.parse(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage());
        }
    }

    /** How much is tracked. */
    public enum Level {
        /** No tracking. */
        DISABLED,
        /** One allocation in {@link #samplingInterval()} is tracked, with its allocation stack. */
        SAMPLED,
        /** Every allocation is tracked, with its allocation stack. */
        PARANOID;

        /**
         * Parses {@code disabled}, {@code sampled} or {@code paranoid}, case-insensitively.
         *
         * @throws IllegalArgumentException naming the value and the valid names
         */
        public static Level parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown leak detection level '" + name
                        + "' (expected disabled, sampled or paranoid)");
            }
        }
    }

    private LeakDetector() {
    }

    /** The current level. */
    public static Level level() {
        return level;
    }

    /** Sets the level for allocations from now on (already tracked resources stay tracked). */
    public static void level(Level newLevel) {
        level = java.util.Objects.requireNonNull(newLevel, "level");
    }

    /** One in how many allocations {@link Level#SAMPLED} tracks. */
    public static int samplingInterval() {
        return samplingInterval;
    }

    /**
     * Sets the sampling interval of {@link Level#SAMPLED}.
     *
     * @throws IllegalArgumentException if {@code interval < 1}
     */
    public static void samplingInterval(int interval) {
        if (interval < 1) {
            throw new IllegalArgumentException("sampling interval " + interval + " must be at least 1");
        }
        samplingInterval = interval;
    }

    /**
     * Whether the allocation being made should be tracked, per the level: never, one in {@link #samplingInterval()},
     * or always. Cheap; call it before building what {@link #track} needs.
     */
    public static boolean shouldTrack() {
        Level l = level;
        if (l == Level.DISABLED) {
            return false;
        }
        return l == Level.PARANOID || ThreadLocalRandom.current().nextInt(samplingInterval) == 0;
    }

    /**
     * Tracks {@code referent}: if it becomes unreachable before the returned handle's {@code clean()} is called, the leak is
     * reported once (with the stack of this call) and {@code release} is run on the Cleaner's thread.
     *
     * @param referent    the object whose reachability is watched (a Tensor); {@code release} must not refer to it
     * @param description names the resource in the report
     * @param bytes       bytes the resource holds
     * @param release     gives the memory back; must be thread-safe
     * @return the tracker: call its {@link Cleaner.Cleanable#clean() clean()} when the resource is closed properly
     *         (idempotent; nothing is reported or released after it)
     */
    public static Cleaner.Cleanable track(Object referent, String description, long bytes, Runnable release) {
        TRACKED.incrementAndGet();
        LeakTracker.State state = new LeakTracker.State(description, bytes,
                new Throwable("allocation site of " + description), release);
        return new LeakTracker(register(referent, state), state);
    }

    private static Cleaner.Cleanable register(Object referent, Runnable action) {
        return CLEANER.register(referent, action);
    }

    /**
     * Reports buffers still handed out when an allocator was closed (log line at WARN and listeners).
     *
     * @param resource the allocator, e.g. {@code BufferPool[cpu/default]}
     * @param count    leaked buffers
     * @param bytes    leaked bytes
     */
    public static void reportOutstanding(String resource, int count, long bytes) {
        report(new LeakReport(LeakReport.Kind.OUTSTANDING_AT_CLOSE, resource, count, bytes, null));
    }

    static void report(LeakReport r) {
        LEAKS.incrementAndGet();
        LEAKED_BYTES.addAndGet(r.bytes());
        if (r.allocationSite() != null) {
            LOG.warn(r.message(), r.allocationSite());
        } else {
            LOG.warn(r.message());
        }
        for (Consumer<LeakReport> l : LISTENERS) {
            try {
                l.accept(r);
            } catch (RuntimeException e) {
                LOG.warn("leak listener {} failed", l, e);
            }
        }
    }

    /** Adds a listener told of every leak report (on the reporting thread: the Cleaner's, or the closing one). */
    public static void addListener(Consumer<LeakReport> listener) {
        LISTENERS.add(java.util.Objects.requireNonNull(listener, "listener"));
    }

    /** Removes a listener added with {@link #addListener}. */
    public static void removeListener(Consumer<LeakReport> listener) {
        LISTENERS.remove(listener);
    }

    /** Resources tracked since start. */
    public static long trackedCount() {
        return TRACKED.get();
    }

    /** Leak reports since start (unreachable tensors and outstanding-at-close reports). */
    public static long leakCount() {
        return LEAKS.get();
    }

    /** Bytes named in leak reports since start. */
    public static long leakedBytes() {
        return LEAKED_BYTES.get();
    }
}
