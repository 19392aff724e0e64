package org.tensorbuffer.meta;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;
import org.tensorbuffer.types.DType;

/**
 * The {@code meta} device, as PyTorch's meta tensors: buffers have a size but no memory, copies and kernels do
 * nothing (a kernel checks nothing and computes nothing; {@code argmax} answers 0, a copy to the host leaves the host
 * memory as it was). A program runs on it in the time its Java code takes, with the same shapes, dtypes and tensor
 * lifetimes as on a real device, which is what recording a {@link org.tensorbuffer.memory.ReservationPlan} needs
 * ({@link org.tensorbuffer.memory.TensorBuffer#record(Runnable)}).
 *
 * <p>Each allocation gets a distinct fake address (no two live buffers overlap), and is counted. Thread-safe; found by
 * {@link org.tensorbuffer.device.Devices#get(String) Devices.get("meta")}.
 */
final class MetaDevice implements Device {
    /** The device id. */
    public static final String ID = "meta";
    private static final long ALIGNMENT = 64;

    private final AtomicLong next = new AtomicLong(ALIGNMENT);
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();
    private final Kernels kernels = new MetaKernels();

    /** A meta device (normally reached through {@code Devices.get("meta")}). */
    public MetaDevice() {
    }

    /** Allocations made so far. */
    public long allocations() {
        return allocations.get();
    }

    /** Frees made so far. */
    public long frees() {
        return frees.get();
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String name() {
        return "meta (no memory, no computation)";
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.META;
    }

    @Override
    public long minAlignment() {
        return ALIGNMENT;
    }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("negative allocation size " + byteSize);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
        }
        long a = Math.max(alignment, ALIGNMENT);
        long span = (Math.max(byteSize, 1) + a - 1) & -a;
        long addr = (next.getAndAdd(span + a) + a - 1) & -a;
        allocations.incrementAndGet();
        return new DeviceBuffer(this, addr, byteSize, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException("free of a slice " + buffer);
        }
        if (buffer.device() != this) {
            throw new IllegalArgumentException("free of " + buffer + " on the meta device");
        }
        frees.incrementAndGet();
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
    }

    @Override
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(-1, -1);
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public void synchronize() {
    }

    @Override
    public Map<String, String> properties() {
        return Map.of("memory", "none (sizes only)", "kernels", "compute nothing");
    }

    @Override
    public void close() {
    }

    @Override
    public String toString() {
        return "MetaDevice";
    }
}
