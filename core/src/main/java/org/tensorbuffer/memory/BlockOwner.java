package org.tensorbuffer.memory;

/**
 * Where a {@link Block} goes when its last reference is released: a {@link BufferPool} size class, a
 * {@link TensorBuffer} shape slot, an arena, or straight back to the device.
 */
public interface BlockOwner {
    /**
     * Takes back a block whose reference count has just dropped to zero. Called once per release, on the releasing
     * thread, after the block's generation has been advanced.
     */
    void recycle(Block block);

    /** Short description for error messages, e.g. {@code BufferPool[cpu/default]}. */
    String describe();
}
