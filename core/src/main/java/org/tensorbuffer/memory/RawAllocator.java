package org.tensorbuffer.memory;

import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * No caching at all: every block is a fresh device allocation and every release frees it (the {@code NONE}
 * strategy, and the baseline the pools are measured against). Counts allocations, frees and live bytes.
 * Thread-safe.
 */
public final class RawAllocator extends BlockOwner {
    private final Device device;
    private final DeviceAllocator allocator;
    private final AtomicLong rawAllocations = new AtomicLong();
    private final AtomicLong rawFrees = new AtomicLong();
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peakLive = new AtomicLong();

    /** An allocator over {@code device}. */
    public RawAllocator(Device device) {
        this.device = device;
        this.allocator = deviceAllocator(device, DeviceAllocator.MIN_ALIGNMENT);
    }

    /**
     * A new block of exactly {@code bytes} bytes with reference count 1.
     *
     * @throws PoolOutOfMemoryException if the device is out of memory
     */
    public Block take(long bytes) {
        DeviceBuffer buf = allocator.allocate(bytes, null, live::get, live::get);
        rawAllocations.incrementAndGet();
        peakLive.accumulateAndGet(live.addAndGet(bytes), Math::max);
        Block b = new Block(buf, bytes, -1, this);
        b.acquire();
        return b;
    }

    @Override
    protected void recycle(Block b) {
        b.retired = true;
        live.addAndGet(-b.capacity);
        rawFrees.incrementAndGet();
        allocator.free(b.buffer, b.capacity);
    }

    /** Sets (or with {@code null} removes) the listener told of every allocation and free. */
    public void reservationListener(ReservationListener listener) {
        allocator.reservationListener(listener);
    }

    /** Device allocations made. */
    public long rawAllocations() {
        return rawAllocations.get();
    }

    /** Device frees made. */
    public long rawFrees() {
        return rawFrees.get();
    }

    /** Bytes allocated and not yet freed. */
    public long liveBytes() {
        return live.get();
    }

    /** High-water mark of {@link #liveBytes()}. */
    public long peakLiveBytes() {
        return peakLive.get();
    }

    /** Resets the peak to the current live bytes. */
    public void resetPeak() {
        peakLive.set(live.get());
    }

    @Override
    public String describe() {
        return "RawAllocator[" + device.id() + "]";
    }
}
