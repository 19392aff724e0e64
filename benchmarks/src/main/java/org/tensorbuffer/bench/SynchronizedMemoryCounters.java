package org.tensorbuffer.bench;

import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.observe.AllocationListener;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The reference for {@link MemoryCountersBenchmark}: {@link org.tensorbuffer.observe.MemoryCounters} as it was
 * before it became lock-free (main at 2622126), one {@code synchronized} update per allocation and free over
 * {@code long[stat][pool][figure]}, kept here so that both are measured side by side in the same run. Only the update
 * path is kept (no snapshot or reset). Thread-safe.
 */
public final class SynchronizedMemoryCounters implements AllocationListener {
    private static final int ALLOCATION = 0;
    private static final int SEGMENT = 1;
    private static final int ACTIVE = 2;
    private static final int ALLOCATED_BYTES = 4;
    private static final int RESERVED_BYTES = 5;
    private static final int ACTIVE_BYTES = 6;
    private static final int REQUESTED_BYTES = 8;

    private final long[][][] v = new long[9][3][4];

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

    /** The current {@code allocated_bytes.all} (for the benchmark's sanity check). */
    public synchronized long allocatedBytes() {
        return v[ALLOCATED_BYTES][0][0];
    }

    private static int pool(long bytes) {
        return bytes <= 1L << 20 ? 1 : 2;
    }

    private void add(int stat, int pool, long delta) {
        update(v[stat][0], delta);
        update(v[stat][pool], delta);
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
}
