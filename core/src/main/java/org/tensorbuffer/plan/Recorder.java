package org.tensorbuffer.plan;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;

/**
 * Phase 1 of planning: logs every allocation of a run (byte size, alignment, shape, dtype) and when it is released,
 * on the logical clock described in {@link AllocationRecord}, and turns the log into an {@link AllocationTrace}.
 *
 * <p>Two ways to feed it:
 * <ul>
 *   <li>{@link #record(Block, Shape, DType, long)} wraps a block the caller took from a real allocator (the
 *       {@link PlannedAllocator} takes it from its {@link org.tensorbuffer.memory.BufferPool}) in a block owned by
 *       the recorder; when the tensor's last reference is released the recorder notes the time and releases the
 *       inner block to where it came from. The run executes normally while it is recorded.</li>
 *   <li>{@link #allocated} and {@link #released} log events directly (synthetic traces, external schedulers).</li>
 * </ul>
 * Blocks released after {@link #finish()} still go back to their allocator; their tensors count as escaped.
 *
 * <p>Thread-safe (one lock); the trace's order is the order in which the calls reached the lock.
 */
public final class Recorder extends BlockOwner {
    private final List<long[]> events = new ArrayList<>();   // per allocation: {bytes, alignment, first, last}
    private final List<Shape> shapes = new ArrayList<>();
    private final List<DType> dtypes = new ArrayList<>();
    private final Map<Block, Wrapped> wrapped = new IdentityHashMap<>();
    private long clock;
    private AllocationTrace trace;

    private record Wrapped(int id, Block inner) {
    }

    /**
     * Logs an allocation and returns its id (its index in allocation order).
     *
     * @throws IllegalStateException    after {@link #finish()}
     * @throws IllegalArgumentException if bytes is negative or alignment not a power of two
     */
    public synchronized int allocated(long bytes, long alignment, Shape shape, DType dtype) {
        if (trace != null) {
            throw new IllegalStateException("recorder already finished");
        }
        if (bytes < 0 || alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("bad allocation: " + bytes + " B aligned to " + alignment);
        }
        events.add(new long[] {bytes, alignment, clock++, -1});
        shapes.add(shape);
        dtypes.add(dtype);
        return events.size() - 1;
    }

    /**
     * Logs the release of allocation {@code id}. Ignored after {@link #finish()} (the tensor escaped).
     *
     * @throws IllegalArgumentException if {@code id} is unknown or already released
     */
    public synchronized void released(int id) {
        if (trace != null) {
            return;
        }
        if (id < 0 || id >= events.size()) {
            throw new IllegalArgumentException("unknown allocation id " + id);
        }
        long[] e = events.get(id);
        if (e[3] >= 0) {
            throw new IllegalArgumentException("allocation " + id + " released twice");
        }
        e[3] = clock++;
    }

    /**
     * Logs an allocation of {@code shape}/{@code dtype} served by {@code inner} (which the caller holds one reference
     * to) and returns a block over the same memory whose last release logs the release and then releases
     * {@code inner}.
     */
    public Block record(Block inner, Shape shape, DType dtype, long alignment) {
        int id = allocated(shape.byteSize(dtype), alignment, shape, dtype);
        Block outer = newBlock(inner.buffer(), inner.capacity());
        synchronized (this) {
            wrapped.put(outer, new Wrapped(id, inner));
        }
        return acquire(outer);
    }

    /** Called when a block from {@link #record} is released for the last time. */
    @Override
    protected void recycle(Block block) {
        Wrapped w;
        synchronized (this) {
            w = wrapped.remove(block);
        }
        if (w == null) {
            throw new IllegalStateException(block + " was not recorded by " + describe());
        }
        released(w.id);
        w.inner.release();
    }

    /** Allocations logged so far. */
    public synchronized int allocationCount() {
        return events.size();
    }

    /**
     * Ends the recording: tensors not yet released are marked escaped and live to the end.
     *
     * @return the trace (the same one on a second call)
     */
    public synchronized AllocationTrace finish() {
        if (trace == null) {
            long end = clock++;
            List<AllocationRecord> records = new ArrayList<>(events.size());
            for (int i = 0; i < events.size(); i++) {
                long[] e = events.get(i);
                boolean escaped = e[3] < 0;
                records.add(new AllocationRecord(i, e[0], e[1], shapes.get(i), dtypes.get(i), e[2],
                        escaped ? end : e[3], escaped));
            }
            trace = new AllocationTrace(records, end);
        }
        return trace;
    }

    @Override
    public String describe() {
        return "Recorder[" + allocationCount() + " allocations]";
    }
}
