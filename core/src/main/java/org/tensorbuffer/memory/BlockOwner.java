package org.tensorbuffer.memory;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * Where a {@link Block} goes when its last reference is released: a {@link BufferPool} size class, a
 * {@link TensorBuffer} shape slot, an arena, or straight back to the device.
 *
 * <p>An abstract class rather than an interface so that what only an owner may do stays off the public API, as
 * Netty keeps its allocator internals behind a small surface: {@link #recycle}, {@link #newBlock} and
 * {@link #acquire} are protected, so a user holding a {@code BufferPool} or a {@code Block} cannot recycle a block or
 * reset its reference count; an owner outside this package (the planner's arena) subclasses this.
 */
public abstract class BlockOwner {
    /** For subclasses. */
    protected BlockOwner() {
    }

    /**
     * Takes back a block whose reference count has just dropped to zero. Called once per release, on the releasing
     * thread, after the block's generation has been advanced.
     */
    protected abstract void recycle(Block block);

    /** Short description for error messages, e.g. {@code BufferPool[cpu/default]}. */
    public abstract String describe();

    /**
     * The allocator through which this owner takes memory from {@code device} and gives it back (alignment
     * {@code max(64, alignment, device.minAlignment())}, out-of-memory retry, reservation notifications). Call once,
     * at construction.
     *
     * @throws IllegalArgumentException if {@code alignment} is not a power of two
     */
    protected final DeviceAllocator deviceAllocator(Device device, long alignment) {
        return new DeviceAllocator(device, alignment, this);
    }

    /**
     * A new free block (reference count 0) owned by this owner over {@code buffer}, not from a size class; hand it out
     * with {@link #acquire}.
     *
     * @param capacity usable bytes, {@code <= buffer.byteSize()}
     */
    protected final Block newBlock(DeviceBuffer buffer, long capacity) {
        return new Block(buffer, capacity, -1, this);
    }

    /**
     * Hands a free block of this owner out: sets its reference count to 1, unconditionally.
     *
     * @throws IllegalStateException if the block belongs to another owner
     */
    protected final Block acquire(Block block) {
        if (block.owner != this) {
            throw new IllegalStateException(block + " does not belong to " + describe());
        }
        block.acquire();
        return block;
    }
}
