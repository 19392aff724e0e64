package org.tensorbuffer.observe;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The context-wide counters behind {@link MemoryStats#of(MemorySource)}, kept as PyTorch's CUDA caching allocator
 * keeps its {@code DeviceStats} ({@code c10/cuda/CUDACachingAllocator.cpp}): for each statistic a current value, its
 * peak, and the totals allocated and freed, for {@code all} and split into {@code small_pool} (blocks of at most
 * {@link #SMALL_SIZE} bytes, torch's {@code kSmallSize}) and {@code large_pool}. Because every allocator of a context
 * reports here, {@code .all.peak} is a true peak over the context, not a sum of per-allocator peaks.
 *
 * <p>Tensor statistics ({@code allocation}, {@code active}, {@code allocated_bytes}, {@code active_bytes},
 * {@code requested_bytes}) move on {@link #allocated} and {@link #freed}; segment statistics ({@code segment},
 * {@code reserved_bytes}) on {@link #reservationChanged} (one call per device allocation or free). Blocks are never
 * split, so {@code inactive_split} and {@code inactive_split_bytes} stay 0. Counting starts when the counters are
 * created (with the context): memory reserved earlier by a shared pool is not in them.
 *
 * <p>Thread-safe: one lock per update (a few plain additions under it).
 */
public final class MemoryCounters implements AllocationListener {
    /** Blocks up to this many bytes count under {@code small_pool} (torch's {@code kSmallSize}, 1 MiB). */
    public static final long SMALL_SIZE = 1L << 20;

    /** The statistics in torch's order ({@code torch.cuda.memory_stats()} key prefixes). */
    public static final List<String> STATS = List.of("allocation", "segment", "active", "inactive_split",
            "allocated_bytes", "reserved_bytes", "active_bytes", "inactive_split_bytes", "requested_bytes");

    /** The pools of each statistic, in torch's order. */
    public static final List<String> POOLS = List.of("all", "small_pool", "large_pool");

    /** The figures of each statistic and pool, in torch's order. */
    public static final List<String> FIGURES = List.of("current", "peak", "allocated", "freed");

    private static final int ALLOCATION = 0;
    private static final int SEGMENT = 1;
    private static final int ACTIVE = 2;
    private static final int ALLOCATED_BYTES = 4;
    private static final int RESERVED_BYTES = 5;
    private static final int ACTIVE_BYTES = 6;
    private static final int REQUESTED_BYTES = 8;

    private static final int NP = POOLS.size();
    private static final int NF = FIGURES.size();
    /**
     * {@code [stat][pool][figure]} flattened ({@link #at}): one array, so that an update (twice per tensor, under the
     * lock) is plain indexed additions without loading nested arrays.
     */
    private final long[] v = new long[STATS.size() * NP * NF];

    /** Counters at zero. */
    public MemoryCounters() {
    }

    @Override
    public synchronized void allocated(Block block, long requestedBytes, Shape shape, DType dtype, String strategy) {
        int p = pool(block.capacity());
        add(ALLOCATION, p, 1);
        add(ACTIVE, p, 1);
        add(ALLOCATED_BYTES, p, block.capacity());
        add(ACTIVE_BYTES, p, block.capacity());
        add(REQUESTED_BYTES, p, requestedBytes);
    }

    @Override
    public synchronized void freed(Block block, int generation, long requestedBytes) {
        int p = pool(block.capacity());
        add(ALLOCATION, p, -1);
        add(ACTIVE, p, -1);
        add(ALLOCATED_BYTES, p, -block.capacity());
        add(ACTIVE_BYTES, p, -block.capacity());
        add(REQUESTED_BYTES, p, -requestedBytes);
    }

    @Override
    public synchronized void reservationChanged(BlockOwner owner, long deltaBytes) {
        int p = pool(Math.abs(deltaBytes));
        add(SEGMENT, p, Long.signum(deltaBytes));
        add(RESERVED_BYTES, p, deltaBytes);
    }

    private static int pool(long bytes) {
        return bytes <= SMALL_SIZE ? 1 : 2;
    }

    private static int at(int stat, int pool, int figure) {
        return (stat * NP + pool) * NF + figure;
    }

    private void add(int stat, int pool, long delta) {
        update(at(stat, 0, 0), delta);
        update(at(stat, pool, 0), delta);
    }

    private void update(int f, long delta) {
        long[] a = v;
        long cur = a[f] + delta;
        a[f] = cur;
        if (delta > 0) {
            a[f + 2] += delta;
            if (cur > a[f + 1]) {
                a[f + 1] = cur;
            }
        } else {
            a[f + 3] -= delta;
        }
    }

    /**
     * One figure.
     *
     * @param stat   one of {@link #STATS}
     * @param pool   one of {@link #POOLS}
     * @param figure one of {@link #FIGURES}
     * @throws IllegalArgumentException if a name is not one of those
     */
    public synchronized long get(String stat, String pool, String figure) {
        return v[at(index(STATS, stat), index(POOLS, pool), index(FIGURES, figure))];
    }

    private static int index(List<String> names, String name) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("unknown statistic part '" + name + "', expected one of " + names);
        }
        return i;
    }

    /** Every figure under torch's keys ({@code <stat>.<pool>.<figure>}), in torch's order. */
    public synchronized Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int s = 0; s < STATS.size(); s++) {
            for (int p = 0; p < POOLS.size(); p++) {
                for (int f = 0; f < FIGURES.size(); f++) {
                    m.put(STATS.get(s) + "." + POOLS.get(p) + "." + FIGURES.get(f), v[at(s, p, f)]);
                }
            }
        }
        return m;
    }

    /** Sets every peak to its current value, as {@code torch.cuda.reset_peak_memory_stats()}. */
    public synchronized void resetPeaks() {
        for (int f = 0; f < v.length; f += NF) {
            v[f + 1] = v[f];
        }
    }

    /**
     * Sets the {@code allocated}/{@code freed} totals to 0 (current values and peaks stay), as
     * {@code torch.cuda.reset_accumulated_memory_stats()}.
     */
    public synchronized void resetAccumulated() {
        for (int f = 0; f < v.length; f += NF) {
            v[f + 2] = 0;
            v[f + 3] = 0;
        }
    }
}
