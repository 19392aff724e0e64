package org.tensorbuffer.observe;

import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.ReservationListener;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Told of a context's tensor allocations and frees and of its allocators' device reservations, so that a recorder
 * ({@link MemoryHistory}) or a statistics keeper ({@link MemoryCounters}) can follow them without the context knowing
 * either. A {@link MemorySource} (a {@code TensorContext}) calls it; install one with
 * {@link MemorySource#allocationListener(AllocationListener)}.
 *
 * <p>Called on the allocating or releasing thread, sometimes under an allocator's lock: implementations must be quick,
 * thread-safe, and must not call back into the allocators.
 */
public interface AllocationListener extends ReservationListener {
    /**
     * A tensor got a newly taken block.
     *
     * @param block          the block (its {@link Block#capacity()} is the allocated bytes)
     * @param requestedBytes bytes the tensor asked for ({@code shape.byteSize(dtype)}), {@code <= block.capacity()}
     * @param shape          the tensor's shape
     * @param dtype          the tensor's element type
     * @param strategy       the allocation strategy's name at the time (e.g. {@code REACTIVE})
     */
    void allocated(Block block, long requestedBytes, Shape shape, DType dtype, String strategy);

    /**
     * The last reference to a block taken for a tensor was released (the block goes back to its owner).
     *
     * @param block          the block
     * @param generation     the block's lease generation at allocation (blocks are recycled)
     * @param requestedBytes the bytes requested at allocation, as passed to {@link #allocated}
     */
    void freed(Block block, int generation, long requestedBytes);
}
