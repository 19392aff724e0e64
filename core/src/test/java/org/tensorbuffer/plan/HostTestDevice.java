package org.tensorbuffer.plan;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;

/** Test-only device over native host memory: counts allocations, detects double frees; no kernels. */
final class HostTestDevice implements Device {
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();
    private final Map<Long, java.lang.foreign.Arena> live = new ConcurrentHashMap<>();

    long allocations() {
        return allocations.get();
    }

    long frees() {
        return frees.get();
    }

    int liveBuffers() {
        return live.size();
    }

    @Override
    public String id() {
        return "hosttest";
    }

    @Override
    public String name() {
        return "host test device";
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CPU;
    }

    @Override
    public long minAlignment() {
        return 64;
    }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        java.lang.foreign.Arena a = java.lang.foreign.Arena.ofShared();
        MemorySegment s = a.allocate(Math.max(1, byteSize), Math.max(alignment, 64));
        live.put(s.address(), a);
        allocations.incrementAndGet();
        return new DeviceBuffer(this, s.address(), byteSize, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException("free of a slice " + buffer);
        }
        java.lang.foreign.Arena a = live.remove(buffer.address());
        if (a == null) {
            throw new IllegalStateException("double free of " + buffer);
        }
        frees.incrementAndGet();
        a.close();
    }

    private static MemorySegment seg(DeviceBuffer b, long offset, long n) {
        if (offset < 0 || offset + n > b.byteSize()) {
            throw new IndexOutOfBoundsException(offset + "+" + n + " outside " + b);
        }
        return MemorySegment.ofAddress(b.address() + offset).reinterpret(n);
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        MemorySegment.copy(src, srcOffset, seg(dst, dstOffset, byteCount), 0, byteCount);
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
        MemorySegment.copy(seg(src, srcOffset, byteCount), 0, dst, dstOffset, byteCount);
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        MemorySegment.copy(seg(src, srcOffset, byteCount), 0, seg(dst, dstOffset, byteCount), 0, byteCount);
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        MemorySegment s = seg(dst, offset, count * dtype.byteSize());
        for (long i = 0; i < count; i++) {
            switch (dtype) {
                case F32 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) value);
                case F64 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, i, value);
                case I32 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i, (int) value);
                case I64 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, (long) value);
                default -> throw new UnsupportedOperationException(dtype.toString());
            }
        }
    }

    @Override
    public MemoryInfo memoryInfo() {
        return MemoryInfo.UNKNOWN;
    }

    @Override
    public Kernels kernels() {
        throw new UnsupportedOperationException("no kernels on the test device");
    }

    @Override
    public void synchronize() {
    }

    @Override
    public Map<String, String> properties() {
        return Map.of();
    }

    @Override
    public void close() {
    }
}
