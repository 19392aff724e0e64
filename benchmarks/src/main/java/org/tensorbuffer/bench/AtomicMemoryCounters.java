package org.tensorbuffer.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.observe.AllocationListener;
import org.tensorbuffer.observe.MemoryCounters;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A lock-free alternative to {@link org.tensorbuffer.observe.MemoryCounters}, evaluated in
 * {@link MemoryCountersBenchmark} and not adopted (docs/benchmarks.md, "MemoryCounters under threads"): the tensor
 * path is five atomic additions on shared counters (the live counts of both pools packed in one word, then the live
 * bytes and requested bytes of {@code all} and of the block's pool), each increase followed by a compare-and-set raise
 * of the peak only when it is exceeded, so peaks stay exact; totals are striped ({@link LongAdder}) and the
 * {@code freed} totals derived ({@code allocated - current}). Device reservations take a lock. Same figures and keys
 * as {@code MemoryCounters} at rest. Thread-safe.
 */
public final class AtomicMemoryCounters implements AllocationListener {
    // The keys and the small/large split are MemoryCounters' own, so that the two report the same figures.
    private static final long SMALL_SIZE = MemoryCounters.SMALL_SIZE;
    private static final List<String> STATS = MemoryCounters.STATS;
    private static final List<String> POOLS = MemoryCounters.POOLS;
    private static final List<String> FIGURES = MemoryCounters.FIGURES;

    private static final int ALLOCATION = 0;
    private static final int SEGMENT = 1;
    private static final int ACTIVE = 2;
    private static final int ALLOCATED_BYTES = 4;
    private static final int RESERVED_BYTES = 5;
    private static final int ACTIVE_BYTES = 6;
    private static final int REQUESTED_BYTES = 8;

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    /** Longs per counter: 16 (128 bytes), so that counters updated by different calls do not share a cache line. */
    private static final int STRIDE = 16;
    /** Packed live counts: {@code small_pool} in the low 32 bits, {@code large_pool} above (signed halves). */
    private static final int COUNT = STRIDE;
    /** Peaks of the packed counts, in the same cache line: small, large, all. */
    private static final int COUNT_PEAK_SMALL = COUNT + 1;
    private static final int COUNT_PEAK_LARGE = COUNT + 2;
    private static final int COUNT_PEAK_ALL = COUNT + 3;
    /** Byte gauges (current, then its peak): allocated all/small/large, requested all/small/large. */
    private static final int BYTES = 2 * STRIDE;
    private static final int REQUESTED = 5 * STRIDE;
    private static final long LARGE_ONE = 1L << 32;

    /** The tensor counters (see the constants), padded at both ends. */
    private final long[] slots = new long[9 * STRIDE];
    /** Totals added, per pool (1 small, 2 large; index 0 unused): [count, bytes, requested]. */
    private final LongAdder[][] added = new LongAdder[3][3];
    /** Per figure [stat][pool]: what the allocated total was at the last {@link #resetAccumulated()}. */
    private final long[][] addedBase = new long[3][3];
    /** Per figure [stat][pool]: what the freed total was at the last {@link #resetAccumulated()}. */
    private final long[][] freedBase = new long[3][3];
    /** Segment statistics [segment or reserved_bytes][pool][figure], guarded by {@code this}. */
    private final long[][][] segments = new long[2][POOLS.size()][FIGURES.size()];

    /** Counters at zero. */
    public AtomicMemoryCounters() {
        for (LongAdder[] pool : added) {
            for (int k = 0; k < pool.length; k++) {
                pool[k] = new LongAdder();
            }
        }
    }

    @Override
    public void allocated(Block block, long requestedBytes, Shape shape, DType dtype, String strategy) {
        long cap = block.capacity();
        boolean small = cap <= SMALL_SIZE;
        long one = small ? 1 : LARGE_ONE;
        long w = (long) SLOT.getAndAdd(slots, COUNT, one) + one;
        int smallCount = (int) w;
        long largeCount = (w - smallCount) >> 32;
        raise(small ? COUNT_PEAK_SMALL : COUNT_PEAK_LARGE, small ? smallCount : largeCount);
        raise(COUNT_PEAK_ALL, smallCount + largeCount);
        int p = small ? 1 : 2;
        increase(BYTES, cap);
        increase(BYTES + p * STRIDE, cap);
        increase(REQUESTED, requestedBytes);
        increase(REQUESTED + p * STRIDE, requestedBytes);
        LongAdder[] a = added[p];
        a[0].increment();
        a[1].add(cap);
        a[2].add(requestedBytes);
    }

    @Override
    public void freed(Block block, int generation, long requestedBytes) {
        long cap = block.capacity();
        boolean small = cap <= SMALL_SIZE;
        SLOT.getAndAdd(slots, COUNT, small ? -1 : -LARGE_ONE);
        int p = small ? 1 : 2;
        SLOT.getAndAdd(slots, BYTES, -cap);
        SLOT.getAndAdd(slots, BYTES + p * STRIDE, -cap);
        SLOT.getAndAdd(slots, REQUESTED, -requestedBytes);
        SLOT.getAndAdd(slots, REQUESTED + p * STRIDE, -requestedBytes);
    }

    /** Adds {@code delta} (>= 0) to the gauge at {@code at} and raises its peak (at {@code at + 1}). */
    private void increase(int at, long delta) {
        raise(at + 1, (long) SLOT.getAndAdd(slots, at, delta) + delta);
    }

    /** Raises the peak at {@code at} to {@code value} if it is lower (a compare-and-set only when it is). */
    private void raise(int at, long value) {
        long peak = (long) SLOT.getVolatile(slots, at);
        while (value > peak) {
            long seen = (long) SLOT.compareAndExchange(slots, at, peak, value);
            if (seen == peak) {
                return;
            }
            peak = seen;
        }
    }

    @Override
    public synchronized void reservationChanged(BlockOwner owner, long deltaBytes) {
        int p = pool(Math.abs(deltaBytes));
        add(segments[0], p, Long.signum(deltaBytes));
        add(segments[1], p, deltaBytes);
    }

    private static int pool(long bytes) {
        return bytes <= SMALL_SIZE ? 1 : 2;
    }

    private static void add(long[][] stat, int pool, long delta) {
        update(stat[0], delta);
        update(stat[pool], delta);
    }

    private static void update(long[] f, long delta) {
        f[0] += delta;
        if (delta > 0) {
            f[2] += delta;
            f[1] = Math.max(f[1], f[0]);
        } else {
            f[3] -= delta;
        }
    }

    /** [current, peak] of tensor statistic {@code k} (0 count, 1 bytes, 2 requested) for {@code pool}. */
    private long[] gauge(int k, int pool) {
        if (k == 0) {
            long w = (long) SLOT.getVolatile(slots, COUNT);
            int smallCount = (int) w;
            long largeCount = (w - smallCount) >> 32;
            long cur = pool == 0 ? smallCount + largeCount : pool == 1 ? smallCount : largeCount;
            return new long[] {cur, (long) SLOT.getVolatile(slots, COUNT + 1 + (pool == 0 ? 2 : pool - 1))};
        }
        int at = (k == 1 ? BYTES : REQUESTED) + pool * STRIDE;
        return new long[] {(long) SLOT.getVolatile(slots, at), (long) SLOT.getVolatile(slots, at + 1)};
    }

    /** The allocated total (all time) of tensor statistic {@code k} for {@code pool}. */
    private long addedTotal(int k, int pool) {
        return pool == 0 ? added[1][k].sum() + added[2][k].sum() : added[pool][k].sum();
    }

    /** [current, peak, allocated, freed] of statistic {@code stat} for {@code pool}. */
    private long[] figures(int stat, int pool) {
        int k = switch (stat) {
            case ALLOCATION, ACTIVE -> 0;
            case ALLOCATED_BYTES, ACTIVE_BYTES -> 1;
            case REQUESTED_BYTES -> 2;
            default -> -1;
        };
        if (k < 0) {
            synchronized (this) {
                return stat == SEGMENT ? segments[0][pool].clone()
                        : stat == RESERVED_BYTES ? segments[1][pool].clone() : new long[4];
            }
        }
        long total = addedTotal(k, pool);
        long[] g = gauge(k, pool);
        long a;
        long f;
        synchronized (this) {
            a = total - addedBase[k][pool];
            f = total - g[0] - freedBase[k][pool];
        }
        return new long[] {g[0], g[1], a, f};
    }

    /**
     * One figure.
     *
     * @param stat   one of {@link #STATS}
     * @param pool   one of {@link #POOLS}
     * @param figure one of {@link #FIGURES}
     * @throws IllegalArgumentException if a name is not one of those
     */
    public long get(String stat, String pool, String figure) {
        int s = index(STATS, stat);
        int p = index(POOLS, pool);
        return figures(s, p)[index(FIGURES, figure)];
    }

    private static int index(List<String> names, String name) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("unknown statistic part '" + name + "', expected one of " + names);
        }
        return i;
    }

    /** Every figure under torch's keys ({@code <stat>.<pool>.<figure>}), in torch's order. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int s = 0; s < STATS.size(); s++) {
            for (int p = 0; p < POOLS.size(); p++) {
                long[] f = figures(s, p);
                for (int k = 0; k < FIGURES.size(); k++) {
                    m.put(STATS.get(s) + "." + POOLS.get(p) + "." + FIGURES.get(k), f[k]);
                }
            }
        }
        return m;
    }

    /** Sets every peak to its current value, as {@code torch.cuda.reset_peak_memory_stats()}. */
    public synchronized void resetPeaks() {
        long w = (long) SLOT.getVolatile(slots, COUNT);
        int smallCount = (int) w;
        long largeCount = (w - smallCount) >> 32;
        SLOT.setVolatile(slots, COUNT_PEAK_SMALL, (long) smallCount);
        SLOT.setVolatile(slots, COUNT_PEAK_LARGE, largeCount);
        SLOT.setVolatile(slots, COUNT_PEAK_ALL, smallCount + largeCount);
        for (int base : new int[] {BYTES, REQUESTED}) {
            for (int p = 0; p < 3; p++) {
                int at = base + p * STRIDE;
                SLOT.setVolatile(slots, at + 1, (long) SLOT.getVolatile(slots, at));
            }
        }
        for (long[][] s : segments) {
            for (long[] p : s) {
                p[1] = p[0];
            }
        }
    }

    /**
     * Sets the {@code allocated}/{@code freed} totals to 0 (current values and peaks stay), as
     * {@code torch.cuda.reset_accumulated_memory_stats()}.
     */
    public synchronized void resetAccumulated() {
        for (int k = 0; k < 3; k++) {
            for (int p = 0; p < 3; p++) {
                long total = addedTotal(k, p);
                addedBase[k][p] = total;
                freedBase[k][p] = total - gauge(k, p)[0];
            }
        }
        for (long[][] s : segments) {
            for (long[] p : s) {
                p[2] = 0;
                p[3] = 0;
            }
        }
    }
}
