package org.tensorbuffer.plan;

import java.util.concurrent.atomic.AtomicInteger;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.memory.DeviceAllocator;
import org.tensorbuffer.memory.PoolOutOfMemoryException;
import org.tensorbuffer.memory.ReservationListener;

/**
 * One device allocation carved into blocks at planned offsets: the memory a {@link MemoryPlan} is replayed into.
 * On the CPU this is one {@code malloc}, on CUDA one {@code cuMemAlloc}, on Vulkan one {@code VkDeviceMemory}; the
 * blocks are {@link DeviceBuffer#slice slices} of it, so the arena works on every backend of the Device SPI.
 *
 * <p>The arena only hands out memory; which slices may be live together is the plan's business. Blocks are created
 * once ({@link #block}) and handed out again and again ({@link #hand}); each release advances the block's generation
 * as for pooled blocks, so a tensor kept past its release is caught. {@link #close()} frees the device memory at once
 * if no block is out, or else when the last one comes back (a tensor that escaped a run keeps its memory valid).
 *
 * <p>Thread-safe.
 */
final class Arena extends BlockOwner implements AutoCloseable {
    private final Device device;
    private final DeviceAllocator allocator;
    private final DeviceBuffer buffer;
    private final AtomicInteger outstanding = new AtomicInteger();
    private volatile boolean closing;
    private boolean freed;

    private Arena(Device device, long bytes, long alignment, ReservationListener listener) {
        this.device = device;
        this.allocator = deviceAllocator(device, alignment);
        allocator.reservationListener(listener);
        this.buffer = allocator.allocate(bytes, null, () -> 0, () -> 0);
    }

    /**
     * Allocates an arena of {@code bytes} bytes aligned to {@code alignment} (raised to the device minimum).
     *
     * @throws PoolOutOfMemoryException if the device cannot allocate it
     */
    public static Arena allocate(Device device, long bytes, long alignment) {
        return new Arena(device, bytes, alignment, null);
    }

    /**
     * {@link #allocate(Device, long, long)} telling {@code listener} (may be {@code null}) of the device allocation
     * now and of the device free later.
     *
     * @throws PoolOutOfMemoryException if the device cannot allocate it
     */
    public static Arena allocate(Device device, long bytes, long alignment, ReservationListener listener) {
        return new Arena(device, bytes, alignment, listener);
    }

    /** The device. */
    public Device device() {
        return device;
    }

    /** The arena's device memory (the root of every block's buffer). */
    public DeviceBuffer buffer() {
        return buffer;
    }

    /** Size in bytes. */
    public long byteSize() {
        return buffer.byteSize();
    }

    /**
     * A new, free block over {@code [offset, offset + size)} of the arena; hand it out with {@link #hand}.
     *
     * @throws IndexOutOfBoundsException if the range is not inside the arena
     */
    public Block block(long offset, long size) {
        return newBlock(buffer.slice(offset, size), size);
    }

    /**
     * Hands a free block of this arena out with reference count 1.
     *
     * @throws IllegalStateException if the block is in use, belongs to another owner, or the arena is closed
     */
    public Block hand(Block block) {
        if (block.owner() != this) {
            throw new IllegalStateException(block + " does not belong to " + describe());
        }
        // count first, then look at closing (close() sets closing, then reads the count): one of the two sees the
        // other, so the memory is never freed under a block handed out
        outstanding.incrementAndGet();
        if (closing) {
            giveBack();
            throw new IllegalStateException(describe() + " is closed");
        }
        if (!tryAcquire(block)) { // atomic: two racing hands of one block cannot both succeed
            giveBack();
            throw new IllegalStateException(block + " is still in use");
        }
        return block;
    }

    private void giveBack() {
        if (outstanding.decrementAndGet() == 0 && closing) {
            freeOnce();
        }
    }

    /** Blocks handed out and not yet released. */
    public int outstandingBlocks() {
        return outstanding.get();
    }

    /** Called on a block's last release. */
    @Override
    protected void recycle(Block block) {
        giveBack();
    }

    /** Frees the device memory now, or when the last outstanding block is released. Idempotent. */
    @Override
    public void close() {
        closing = true;
        if (outstanding.get() == 0) {
            freeOnce();
        }
    }

    /** Whether the device memory has been freed. */
    public synchronized boolean isFreed() {
        return freed;
    }

    private synchronized void freeOnce() {
        if (!freed) {
            freed = true;
            allocator.free(buffer, buffer.byteSize());
        }
    }

    @Override
    public String describe() {
        // buffer is null while the constructor's allocation fails
        return buffer == null ? "Arena[" + device.id() + "]"
                : "Arena[" + device.id() + ", " + buffer.byteSize() + " B]";
    }

    @Override
    public String toString() {
        return describe();
    }
}
