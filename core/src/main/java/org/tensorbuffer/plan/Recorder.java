package org.tensorbuffer.plan;

import java.util.IdentityHashMap;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;

/**
 * Phase 1 of planning behind {@link PlannedAllocator}: wraps every block of a recorded run so that its allocation
 * (byte size, alignment, shape, dtype) and its release are logged, on the logical clock described in
 * {@link AllocationRecord}, in an {@link AllocationTrace.Builder}. {@link #record(Block, Shape, DType, long)} wraps a
 * block the caller took from a real allocator (the {@link PlannedAllocator} takes it from its
 * {@link org.tensorbuffer.memory.BufferPool}) in a block owned by the recorder; when the tensor's last reference is
 * released the recorder notes the time and releases the inner block to where it came from. The run executes normally
 * while it is recorded. Blocks released after {@link #finish()} still go back to their allocator; their tensors count
 * as escaped. Synthetic traces (schedules, external planners) use {@link AllocationTrace.Builder} directly.
 *
 * <p>Thread-safe (the builder's lock).
 */
final class Recorder extends BlockOwner {
    private final AllocationTrace.Builder log = new AllocationTrace.Builder();
    private final Map<Block, Wrapped> wrapped = new IdentityHashMap<>();

    private record Wrapped(int id, Block inner) {
    }

    /**
     * Logs an allocation of {@code shape}/{@code dtype} served by {@code inner} (which the caller holds one reference
     * to) and returns a block over the same memory whose last release logs the release and then releases
     * {@code inner}.
     */
    Block record(Block inner, Shape shape, DType dtype, long alignment) {
        int id = log.allocated(shape.byteSize(dtype), alignment, shape, dtype);
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
        log.released(w.id);
        w.inner.release();
    }

    /** Allocations logged so far. */
    int allocationCount() {
        return log.allocationCount();
    }

    /** Ends the recording ({@link AllocationTrace.Builder#build()}): tensors not yet released escaped. */
    AllocationTrace finish() {
        return log.build();
    }

    @Override
    public String describe() {
        return "Recorder[" + allocationCount() + " allocations]";
    }
}
