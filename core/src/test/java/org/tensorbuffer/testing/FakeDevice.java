package org.tensorbuffer.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;

/**
 * A test-only device over native memory (one shared {@link Arena} per buffer) with an optional artificial limit,
 * counting allocations and detecting double frees. No kernels: only memory, copies and fill.
 */
public final class FakeDevice implements Device {
    private final String id;
    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();
    private final Map<MemorySegment, Arena> live = new ConcurrentHashMap<>();
    private final Set<Long> liveAddresses = ConcurrentHashMap.newKeySet();

    /** An unlimited device. */
    public FakeDevice(String id) {
        this(id, Long.MAX_VALUE);
    }

    /** A device that refuses to hold more than {@code limitBytes}. */
    public FakeDevice(String id, long limitBytes) {
        this.id = id;
        this.limit = limitBytes;
    }

    @Override public String id() { return id; }
    @Override public String name() { return "fake " + id; }
    @Override public DeviceKind kind() { return DeviceKind.values()[0]; }
    @Override public long minAlignment() { return 64; }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("negative size " + byteSize);
        }
        for (;;) {
            long u = used.get();
            if (u + byteSize > limit) {
                throw new DeviceOutOfMemoryException(id, byteSize, "limit " + limit + " bytes, in use " + u);
            }
            if (used.compareAndSet(u, u + byteSize)) {
                break;
            }
        }
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(1, byteSize), Math.max(64, alignment));
        live.put(seg, arena);
        liveAddresses.add(seg.address());
        allocations.incrementAndGet();
        return new DeviceBuffer(this, seg.address(), byteSize, seg);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException("free of a slice " + buffer);
        }
        if (!liveAddresses.remove(buffer.address())) {
            throw new IllegalStateException("double free of " + buffer);
        }
        Arena a = live.remove((MemorySegment) buffer.handle());
        used.addAndGet(-buffer.byteSize());
        frees.incrementAndGet();
        a.close();
    }

    private static MemorySegment seg(DeviceBuffer b, long offset, long size) {
        MemorySegment root = (MemorySegment) (b.isRoot() ? b.handle() : b.root().handle());
        return root.asSlice(b.address() - root.address() + offset, size);
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long n) {
        MemorySegment.copy(src, srcOffset, seg(dst, dstOffset, n), 0, n);
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        MemorySegment.copy(seg(src, srcOffset, n), 0, dst, dstOffset, n);
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long n) {
        MemorySegment.copy(seg(src, srcOffset, n), 0, seg(dst, dstOffset, n), 0, n);
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        MemorySegment s = seg(dst, offset, count * dtype.byteSize());
        for (long i = 0; i < count; i++) {
            switch (dtype) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) value);
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, value);
                case I32 -> s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) value);
                case I64 -> s.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, (long) value);
                default -> throw new UnsupportedOperationException("fill " + dtype);
            }
        }
    }

    @Override
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(limit == Long.MAX_VALUE ? -1 : limit, limit == Long.MAX_VALUE ? -1 : limit - used.get());
    }

    @Override public Kernels kernels() { throw new UnsupportedOperationException("FakeDevice has no kernels"); }
    @Override public void synchronize() { }
    @Override public Map<String, String> properties() { return Map.of("kind", "fake"); }
    @Override public void close() { }

    /** Bytes allocated and not freed. */
    public long usedBytes() {
        return used.get();
    }

    /** Device allocations so far. */
    public long allocations() {
        return allocations.get();
    }

    /** Device frees so far. */
    public long frees() {
        return frees.get();
    }
}
