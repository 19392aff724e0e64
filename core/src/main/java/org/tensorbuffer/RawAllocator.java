package org.tensorbuffer;

import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.memory.DeviceAllocator;
import org.tensorbuffer.memory.PoolOutOfMemoryException;
import org.tensorbuffer.memory.RawAllocatorMetric;
import org.tensorbuffer.memory.ReservationListener;

/**
 * No caching at all: every block is a fresh device allocation and every release frees it (the {@code NONE}
 * strategy, and the baseline the pools are measured against). Counts allocations, frees and live bytes, which a
 * context shows as its {@link RawAllocatorMetric}. Internal to the tensor API; thread-safe.
 */
final class RawAllocator extends BlockOwner implements RawAllocatorMetric {
    private final Device device;
    private final DeviceAllocator allocator;
    private final AtomicLong rawAllocations = new AtomicLong();
    private final AtomicLong rawFrees = new AtomicLong();
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peakLive = new AtomicLong();

    /** An allocator over {@code device}. */
    RawAllocator(Device device) {
        this.device = device;
        this.allocator = deviceAllocator(device, device.minAlignment()); // raised to at least 64
    }

    /**
     * A new block of exactly {@code bytes} bytes with reference count 1.
     *
     * @throws PoolOutOfMemoryException if the device is out of memory
     */
    Block take(long bytes) {
        DeviceBuffer buf = allocator.allocate(bytes, null, live::get, live::get);
        rawAllocations.incrementAndGet();
        peakLive.accumulateAndGet(live.addAndGet(bytes), Math::max);
        return acquire(newBlock(buf, bytes));
    }

    @Override
    protected void recycle(Block b) {
        live.addAndGet(-b.capacity());
        rawFrees.incrementAndGet();
        allocator.free(b.buffer(), b.capacity());
    }

    /** Sets (or with {@code null} removes) the listener told of every allocation and free. */
    void reservationListener(ReservationListener listener) {
        allocator.reservationListener(listener);
    }

    /** Device allocations made. */
    @Override
    public long rawAllocations() {
        return rawAllocations.get();
    }

    /** Device frees made. */
    @Override
    public long rawFrees() {
        return rawFrees.get();
    }

    /** Bytes allocated and not yet freed. */
    @Override
    public long liveBytes() {
        return live.get();
    }

    /** High-water mark of {@link #liveBytes()}. */
    @Override
    public long peakLiveBytes() {
        return peakLive.get();
    }

    /** Resets the peak to the current live bytes. */
    @Override
    public void resetPeak() {
        peakLive.set(live.get());
    }

    @Override
    public String describe() {
        return "RawAllocator[" + device.id() + "]";
    }
}
