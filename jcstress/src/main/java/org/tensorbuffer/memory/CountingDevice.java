package org.tensorbuffer.memory;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;
import org.tensorbuffer.types.DType;

/**
 * A device without memory for the jcstress tests: it hands out distinct fake addresses, keeps the set of live ones
 * and throws on a double free (which jcstress then reports as an error of the test). One per test state, so that
 * millions of states cost no native memory. Thread-safe.
 */
public final class CountingDevice implements Device {
    private static final AtomicLong NEXT = new AtomicLong(1L << 40);
    private final Set<Long> live = ConcurrentHashMap.newKeySet();

    /** Buffers allocated and not freed. */
    public int liveBuffers() {
        return live.size();
    }

    /** Whether the buffer at {@code address} is allocated and not freed. */
    public boolean isLive(long address) {
        return live.contains(address);
    }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        long addr = NEXT.getAndAdd((byteSize + 127) & ~63L);
        live.add(addr);
        return new DeviceBuffer(this, addr, byteSize, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (!live.remove(buffer.address())) {
            throw new IllegalStateException("double free of " + buffer);
        }
    }

    @Override
    public String id() {
        return "jcstress";
    }

    @Override
    public String name() {
        return "jcstress counting device";
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
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        throw new UnsupportedOperationException();
    }

    @Override
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(-1, -1);
    }

    @Override
    public Kernels kernels() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void synchronize() {
    }

    @Override
    public Map<String, String> properties() {
        return Map.of("kind", "jcstress");
    }

    @Override
    public void close() {
    }
}
