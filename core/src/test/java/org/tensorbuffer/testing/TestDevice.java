package org.tensorbuffer.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;

/**
 * A test-only device over host memory with an optional byte limit, counting allocations and frees and detecting
 * double frees. No kernels: the pool and TensorBuffer tests need memory only. Thread-safe.
 */
public final class TestDevice implements Device {
    private final String id;
    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong frees = new AtomicLong();
    private final Map<Long, MemorySegment> live = new ConcurrentHashMap<>();
    private final Arena arena = Arena.ofShared();
    private final AtomicLong nextFake = new AtomicLong(1L << 40);
    private volatile Runnable beforeAllocate;
    private volatile Runnable beforeFree;

    /** A device named {@code id} with {@code limitBytes} of memory ({@code Long.MAX_VALUE} for no limit). */
    public TestDevice(String id, long limitBytes) {
        this.id = id;
        this.limit = limitBytes;
    }

    /** A device named {@code id} without a limit. */
    public TestDevice(String id) {
        this(id, Long.MAX_VALUE);
    }

    /** A device named {@code test} with {@code limitBytes} of memory. */
    public TestDevice(long limitBytes) {
        this("test", limitBytes);
    }

    /** A device named {@code test} without a limit. */
    public TestDevice() {
        this(Long.MAX_VALUE);
    }

    /**
     * Runs {@code hook} at the start of every {@link #allocate} (on the allocating thread), or with {@code null} stops;
     * for tests that force an interleaving with latches.
     */
    public void beforeAllocate(Runnable hook) {
        this.beforeAllocate = hook;
    }

    /**
     * Runs {@code hook} at the start of every {@link #free} (on the freeing thread), or with {@code null} stops; for
     * tests that act at a known point of a release (with {@code AllocationStrategy.NONE} every tensor's last release
     * frees its buffer).
     */
    public void beforeFree(Runnable hook) {
        this.beforeFree = hook;
    }

    /** Raw allocations made. */
    public long allocations() {
        return allocations.get();
    }

    /** Raw frees made. */
    public long frees() {
        return frees.get();
    }

    /** Bytes allocated and not freed. */
    public long usedBytes() {
        return used.get();
    }

    /** Buffers allocated and not freed. */
    public int liveBuffers() {
        return live.size();
    }

    /** Whether a buffer starting at {@code address} is allocated and not freed. */
    public boolean isLive(long address) {
        return live.containsKey(address);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String name() {
        return "test device";
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
        Runnable hook = beforeAllocate;
        if (hook != null) {
            hook.run();
        }
        if (byteSize < 0) {
            throw new IllegalArgumentException("negative size " + byteSize);
        }
        long u = used.addAndGet(byteSize);
        if (u > limit) {
            used.addAndGet(-byteSize);
            throw new DeviceOutOfMemoryException(id(), byteSize, "limit " + limit + " bytes");
        }
        allocations.incrementAndGet();
        // Big test buffers are never touched by kernels here; back small ones with memory, fake the address of big
        // ones so a test can "allocate" gigabytes.
        MemorySegment seg = byteSize <= (64 << 20) ? arena.allocate(Math.max(1, byteSize), 64) : null;
        long addr = seg != null ? seg.address() : nextFake.getAndAdd(byteSize + 64);
        live.put(addr, seg == null ? MemorySegment.NULL : seg);
        return new DeviceBuffer(this, addr, byteSize, seg);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        Runnable hook = beforeFree;
        if (hook != null) {
            hook.run();
        }
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException("free of a slice " + buffer);
        }
        if (live.remove(buffer.address()) == null) {
            throw new IllegalStateException("double free or foreign buffer " + buffer);
        }
        used.addAndGet(-buffer.byteSize());
        frees.incrementAndGet();
    }

    private static MemorySegment seg(DeviceBuffer b, long off, long n) {
        return MemorySegment.ofAddress(b.address() + off).reinterpret(n);
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
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) value);
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, value);
                case I32 -> s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) value);
                case I64 -> s.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, (long) value);
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) value));
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i,
                        (short) (Float.floatToRawIntBits((float) value) >>> 16));
            }
        }
    }

    @Override
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(limit == Long.MAX_VALUE ? -1 : limit, limit == Long.MAX_VALUE ? -1 : limit - used.get());
    }

    @Override
    public Kernels kernels() {
        throw new UnsupportedOperationException("the test device has no kernels");
    }

    @Override
    public void synchronize() {
    }

    @Override
    public Map<String, String> properties() {
        return Map.of("kind", "test");
    }

    @Override
    public void close() {
    }
}
