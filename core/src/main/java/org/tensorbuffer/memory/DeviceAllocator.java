package org.tensorbuffer.memory;

import java.util.function.LongSupplier;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceOutOfMemoryException;

/**
 * The one place where a {@link BlockOwner} (BufferPool, TensorBuffer, RawAllocator, the planner's arena) takes memory
 * from its {@link Device} and gives it back: the alignment rule, the out-of-memory policy and the reservation
 * notifications. Obtained from {@link BlockOwner#deviceAllocator}.
 *
 * <ul>
 *   <li>Alignment: {@code max(64, requested, device.minAlignment())}, 64 bytes being one cache line (and the
 *       {@code SizeClasses} quantum).</li>
 *   <li>Out of memory, as PyTorch's CUDA caching allocator does it: allocate; if the device refuses, empty the
 *       owner's cache and retry once; if it refuses again, throw {@link PoolOutOfMemoryException} with the requested,
 *       live, cached and total bytes.</li>
 *   <li>Every device allocation and free is reported to the {@link ReservationListener}, if one is set.</li>
 * </ul>
 * Thread-safe as far as the device is; counters stay with the owners.
 */
public final class DeviceAllocator {
    /** Smallest alignment of any owner's blocks: one cache line. */
    static final long MIN_ALIGNMENT = 64;

    private final Device device;
    private final BlockOwner owner;
    private final long alignment;
    private volatile ReservationListener listener;

    DeviceAllocator(Device device, long requestedAlignment, BlockOwner owner) {
        if (Long.bitCount(requestedAlignment) != 1) {
            throw new IllegalArgumentException("alignment " + requestedAlignment + " is not a power of two");
        }
        this.device = device;
        this.owner = owner;
        this.alignment = Math.max(MIN_ALIGNMENT, Math.max(requestedAlignment, device.minAlignment()));
    }

    /** The device. */
    public Device device() {
        return device;
    }

    /** Alignment in bytes of every buffer this allocator returns. */
    public long alignment() {
        return alignment;
    }

    /**
     * {@code bytes} bytes of device memory, aligned to {@link #alignment()}.
     *
     * @param emptyCache    run once when the device is out of memory, before the one retry; {@code null}: no retry
     * @param liveBytes     the owner's bytes in use, for the exception
     * @param reservedBytes the owner's bytes held from the device (live + cached), for the exception
     * @throws PoolOutOfMemoryException if the device refuses (again, after emptying the cache)
     */
    public DeviceBuffer allocate(long bytes, Runnable emptyCache, LongSupplier liveBytes, LongSupplier reservedBytes) {
        DeviceBuffer buf;
        try {
            buf = device.allocate(bytes, alignment);
        } catch (DeviceOutOfMemoryException first) {
            if (emptyCache == null) {
                throw outOfMemory(bytes, liveBytes, reservedBytes, first);
            }
            emptyCache.run();
            try {
                buf = device.allocate(bytes, alignment);
            } catch (DeviceOutOfMemoryException second) {
                throw outOfMemory(bytes, liveBytes, reservedBytes, second);
            }
        }
        ReservationListener l = listener;
        if (l != null) {
            l.reservationChanged(owner, buf, bytes);
        }
        return buf;
    }

    private PoolOutOfMemoryException outOfMemory(long bytes, LongSupplier liveBytes, LongSupplier reservedBytes,
                                                 DeviceOutOfMemoryException cause) {
        long live = liveBytes.getAsLong();
        return new PoolOutOfMemoryException(owner.describe(), bytes, live, reservedBytes.getAsLong() - live,
                device.memoryInfo().totalBytes(), cause);
    }

    /** Frees {@code buffer}, which held {@code bytes} bytes of the owner's reservation, and reports it. */
    public void free(DeviceBuffer buffer, long bytes) {
        device.free(buffer);
        ReservationListener l = listener;
        if (l != null) {
            l.reservationChanged(owner, buffer, -bytes);
        }
    }

    /** Sets (or with {@code null} removes) the listener told of every allocation and free. */
    public void reservationListener(ReservationListener listener) {
        this.listener = listener;
    }
}
