package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.DeviceUnavailableException;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;

/**
 * The host as a {@link Device}: native memory from {@code posix_memalign}/{@code free} through the FFM API (see
 * {@link NativeMemory}), 64-byte aligned (one cache line) and freed deterministically, and the Java/OpenBLAS
 * {@link CpuKernels}.
 *
 * <p>{@link DeviceBuffer#address()} is the native address; {@link DeviceBuffer#handle()} is {@code null}. The device
 * keeps a map of its live allocations (address to size), so that freeing a buffer twice, freeing a slice or freeing
 * memory it did not allocate throws instead of corrupting the C heap.
 *
 * <p>An optional artificial memory limit makes {@link #allocate} throw {@link DeviceOutOfMemoryException} once the
 * live bytes would exceed it, so that pools can be tested for out-of-memory handling. All work is synchronous;
 * {@link #synchronize()} returns at once. Thread-safe.
 */
public final class CpuDevice implements Device {
    /** Alignment of every allocation in bytes: one cache line, and enough for any vector load. */
    public static final long MIN_ALIGNMENT = 64;

    private final long memoryLimit;
    private final ConcurrentHashMap<Long, Long> live = new ConcurrentHashMap<>();
    private final AtomicLong usedBytes = new AtomicLong();
    private final CpuKernels kernels;
    private volatile boolean closed;

    /** A CPU device without a memory limit beyond what the C library can give. */
    public CpuDevice() {
        this(-1);
    }

    /**
     * A CPU device whose live allocations may not exceed {@code memoryLimitBytes} (for testing out-of-memory paths).
     * The bytes counted are the requested sizes (a zero-byte buffer counts 0).
     *
     * @param memoryLimitBytes the limit in bytes, or {@code -1} for none
     * @throws IllegalArgumentException if the limit is below -1
     */
    public CpuDevice(long memoryLimitBytes) {
        if (memoryLimitBytes < -1) {
            throw new IllegalArgumentException("memory limit must be -1 (none) or >= 0, got " + memoryLimitBytes);
        }
        this.memoryLimit = memoryLimitBytes;
        requireVectorApi();
        this.kernels = new CpuKernels();
    }

    /**
     * The kernels use the Vector API (also beside OpenBLAS: elementwise ops, softmax, GEMV), an incubator module that
     * the JVM resolves only when asked: without it their classes fail to link with a bare {@code NoClassDefFoundError}.
     *
     * @throws DeviceUnavailableException naming the missing flag if {@code jdk.incubator.vector} is not resolved
     */
    static void requireVectorApi() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            throw new DeviceUnavailableException("the cpu device needs the Vector API module: run java with"
                    + " --add-modules jdk.incubator.vector");
        }
    }

    @Override
    public String id() {
        return "cpu";
    }

    @Override
    public String name() {
        String arch = System.getProperty("os.arch");
        return "CPU (" + arch + ", " + Runtime.getRuntime().availableProcessors() + " threads)";
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CPU;
    }

    @Override
    public long minAlignment() {
        return MIN_ALIGNMENT;
    }

    /** The artificial memory limit in bytes, or {@code -1} if there is none. */
    public long memoryLimit() {
        return memoryLimit;
    }

    /** Bytes currently allocated and not freed (requested sizes). */
    public long usedBytes() {
        return usedBytes.get();
    }

    /** Number of buffers currently allocated and not freed. */
    public int liveBuffers() {
        return live.size();
    }

    /**
     * {@inheritDoc}
     *
     * <p>A zero-byte request takes one byte from the C library so that the buffer has a unique address and can be
     * freed (and its double free detected) like any other.
     *
     * @throws IllegalStateException if the device has been closed
     */
    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("cannot allocate a negative number of bytes: " + byteSize);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        ensureOpen();
        long align = Math.max(alignment, MIN_ALIGNMENT);
        if (memoryLimit >= 0) {
            long before;
            do {
                before = usedBytes.get();
                if (before + byteSize > memoryLimit || before + byteSize < 0) {
                    throw new DeviceOutOfMemoryException(id(), byteSize,
                            "limit " + memoryLimit + " bytes, " + before + " bytes in use");
                }
            } while (!usedBytes.compareAndSet(before, before + byteSize));
        } else {
            usedBytes.addAndGet(byteSize);
        }
        long address = NativeMemory.allocate(Math.max(byteSize, 1), align);
        if (address == 0) {
            usedBytes.addAndGet(-byteSize);
            throw new DeviceOutOfMemoryException(id(), byteSize, "posix_memalign returned no memory (alignment "
                    + align + ")");
        }
        live.put(address, byteSize);
        return new DeviceBuffer(this, address, byteSize, null);
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code buffer} belongs to another device, is a slice, or its address is
     *                                  known with another size
     * @throws IllegalStateException    if the buffer is not live: freed already (double free) or never allocated here
     */
    @Override
    public void free(DeviceBuffer buffer) {
        Objects.requireNonNull(buffer, "buffer");
        if (buffer.device() != this) {
            throw new IllegalArgumentException("cannot free " + buffer + ": it belongs to another device");
        }
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException("cannot free " + buffer + ": it is a slice of " + buffer.root());
        }
        Long size = live.remove(buffer.address());
        if (size == null) {
            throw new IllegalStateException("cannot free " + buffer
                    + ": not a live allocation of this device (double free or foreign buffer)");
        }
        if (size != buffer.byteSize()) {
            live.put(buffer.address(), size);
            throw new IllegalArgumentException("cannot free " + buffer + ": the allocation at that address has "
                    + size + " bytes");
        }
        usedBytes.addAndGet(-size);
        NativeMemory.free(buffer.address());
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        checkRange(dst, dstOffset, byteCount, "copyFromHost destination");
        MemorySegment.copy(src, srcOffset, ALL, dst.address() + dstOffset, byteCount);
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
        checkRange(src, srcOffset, byteCount, "copyToHost source");
        MemorySegment.copy(ALL, src.address() + srcOffset, dst, dstOffset, byteCount);
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        checkRange(src, srcOffset, byteCount, "copy source");
        checkRange(dst, dstOffset, byteCount, "copy destination");
        MemorySegment.copy(ALL, src.address() + srcOffset, ALL, dst.address() + dstOffset, byteCount);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Integer types take {@code (int) value} / {@code (long) value}; F32 takes {@code (float) value}; F16 and BF16
     * are rounded to nearest even (directly from the {@code double}, without double rounding).
     */
    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        Objects.requireNonNull(dtype, "dtype");
        if (count < 0) {
            throw new IllegalArgumentException("fill count must be >= 0, got " + count);
        }
        int es = dtype.byteSize();
        long bytes = Math.multiplyExact(count, (long) es);
        checkRange(dst, offset, bytes, "fill");
        if (count == 0) {
            return;
        }
        long pattern = switch (dtype) {
            case F32 -> Float.floatToRawIntBits((float) value) & 0xFFFFFFFFL;
            case F64 -> Double.doubleToRawLongBits(value);
            case F16 -> HalfFloats.toF16Bits(value) & 0xFFFFL;
            case BF16 -> HalfFloats.toBf16Bits(value) & 0xFFFFL;
            case I32 -> ((int) value) & 0xFFFFFFFFL;
            case I64 -> (long) value;
        };
        fillPattern(dst.address() + offset, count, es, pattern);
    }

    /** Writes {@code count} elements of {@code es} bytes, each the low {@code es} bytes of {@code pattern}. */
    static void fillPattern(long address, long count, int es, long pattern) {
        long bytes = count * es;
        // Replicate the element into 8 bytes; a pattern of identical bytes (0, -1, ...) becomes a memset.
        long p8 = switch (es) {
            case 2 -> (pattern & 0xFFFF) * 0x0001_0001_0001_0001L;
            case 4 -> (pattern & 0xFFFFFFFFL) * 0x0000_0001_0000_0001L;
            default -> pattern;
        };
        if (p8 == (p8 & 0xFF) * 0x0101_0101_0101_0101L) {
            ALL.asSlice(address, bytes).fill((byte) p8);
            return;
        }
        long i = 0;
        // Head up to 8-byte alignment of the address, element by element.
        while (i < bytes && ((address + i) & 7) != 0) {
            putElement(address + i, es, pattern);
            i += es;
        }
        for (; i + 8 <= bytes; i += 8) {
            ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address + i, p8);
        }
        for (; i < bytes; i += es) {
            putElement(address + i, es, pattern);
        }
    }

    private static void putElement(long address, int es, long pattern) {
        switch (es) {
            case 2 -> ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, address, (short) pattern);
            case 4 -> ALL.set(ValueLayout.JAVA_INT_UNALIGNED, address, (int) pattern);
            default -> ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address, pattern);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>With a memory limit: the limit and the limit minus the live bytes. Without one: the machine's physical
     * memory and its free memory as the operating system reports them ({@link MemoryInfo#UNKNOWN} if it does not).
     */
    @Override
    public MemoryInfo memoryInfo() {
        if (memoryLimit >= 0) {
            return new MemoryInfo(memoryLimit, Math.max(0, memoryLimit - usedBytes.get()));
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return new MemoryInfo(os.getTotalMemorySize(), os.getFreeMemorySize());
        }
        return MemoryInfo.UNKNOWN;
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    /** Returns at once: CPU work is synchronous. */
    @Override
    public void synchronize() {
    }

    /**
     * {@code name}, {@code arch}, {@code threads}, {@code gemm} (e.g. {@code OpenBLAS (libopenblas.so.0, SkylakeX
     * core: ...)}, the core and why it was chosen: see {@code tensorbuffer.cpu.blasCore} in {@link BlasCore}),
     * {@code gemm.threads}, {@code gemv} (which GEMV runs large float32 matrix-vector products: see
     * {@code tensorbuffer.cpu.gemv} in {@link CpuKernels#gemvDescription()}), {@code kernel.threads} (see
     * {@link CpuKernels#threads()}), {@code kernel.spin} (see {@link CpuKernels#spinMicros()}), {@code memory},
     * {@code alignment}, {@code live}.
     */
    @Override
    public Map<String, String> properties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("name", name());
        p.put("arch", System.getProperty("os.arch"));
        p.put("threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
        p.put("gemm", kernels.gemmDescription());
        p.put("gemm.threads", Integer.toString(kernels.gemmImplementation().threads()));
        p.put("gemv", kernels.gemvDescription());
        p.put("kernel.threads", kernels.threads() + " (-Dtensorbuffer.cpu.threads or TENSORBUFFER_CPU_THREADS)");
        p.put("kernel.spin", kernels.spinMicros() + " us before idle kernel threads park (-Dtensorbuffer.cpu.spinMicros)");
        MemoryInfo mi = memoryInfo();
        p.put("memory", (memoryLimit >= 0 ? "limit " : "") + mib(mi.totalBytes()) + " total, "
                + mib(mi.freeBytes()) + " free");
        p.put("alignment", MIN_ALIGNMENT + " B");
        p.put("live", live.size() + " buffers, " + usedBytes.get() + " B");
        return p;
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "unknown" : (bytes >> 20) + " MiB";
    }

    /**
     * Frees every buffer still allocated; later calls to {@link #allocate} throw {@link IllegalStateException}.
     * Buffers still referenced elsewhere become invalid (using them is undefined, as with any freed memory).
     */
    @Override
    public void close() {
        closed = true;
        for (Long address : live.keySet()) {
            Long size = live.remove(address);
            if (size != null) {
                usedBytes.addAndGet(-size);
                NativeMemory.free(address);
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device cpu has been closed");
        }
    }

    /** Checks that {@code [offset, offset + bytes)} lies inside {@code buf}, which must be a CPU buffer. */
    static void checkRange(DeviceBuffer buf, long offset, long bytes, String what) {
        Objects.requireNonNull(buf, what);
        if (!(buf.device() instanceof CpuDevice)) {
            throw new IllegalArgumentException(what + ": " + buf + " is not a CPU buffer");
        }
        if (offset < 0 || bytes < 0 || offset > buf.byteSize() - bytes) {
            throw new IndexOutOfBoundsException(what + ": byte range [" + offset + ", " + (offset + bytes)
                    + ") is outside " + buf);
        }
    }

    @Override
    public String toString() {
        return "CpuDevice[" + (memoryLimit >= 0 ? "limit " + memoryLimit + " B, " : "") + usedBytes.get()
                + " B in use]";
    }
}
