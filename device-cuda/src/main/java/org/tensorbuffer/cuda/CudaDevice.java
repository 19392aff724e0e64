package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocAsync;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeAsync;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;

/**
 * One NVIDIA GPU through the CUDA driver API (JCuda): the device's primary context, one non-blocking stream on which
 * every copy and kernel of this object is ordered, pinned host staging buffers for host copies, and raw allocation
 * by {@link AllocMode}: {@code cuMemAlloc}/{@code cuMemFree}, or stream-ordered
 * {@code cuMemAllocAsync}/{@code cuMemFreeAsync} on the device's default memory pool.
 *
 * <p>{@link DeviceBuffer#address()} is the {@code CUdeviceptr}. Allocations are aligned to {@value #MIN_ALIGNMENT}
 * bytes (the driver's guarantee); larger alignments are honoured by over-allocating. The device tracks its live
 * allocations, so freeing a slice, a foreign buffer or a buffer twice throws instead of corrupting the driver's heap.
 *
 * <p>Thread-safe: any thread may call any method; the context is made current on the calling thread as needed. A buffer
 * may be freed as soon as the work that uses it has been issued: in {@link AllocMode#ASYNC} mode its memory is reused
 * in stream order (every use was issued on the same stream); in {@link AllocMode#SYNC} mode {@link #free} first waits
 * for the stream, then calls {@code cuMemFree}.
 */
public final class CudaDevice implements Device {
    /** Alignment of every allocation in bytes ({@code cuMemAlloc} returns at least 256-byte aligned pointers). */
    public static final long MIN_ALIGNMENT = 256;
    /** System property: the default pool's release threshold in bytes for {@link AllocMode#ASYNC} (default: all). */
    public static final String RELEASE_THRESHOLD_PROPERTY = "tensorbuffer.cuda.releaseThreshold";
    /** Bytes per pinned staging buffer (there are two). */
    static final long STAGING_CHUNK = 4L << 20;
    private static final ThreadLocal<CudaDevice> CURRENT = new ThreadLocal<>();

    private final int ordinal;
    private final String id;
    private final String name;
    private final AllocMode allocMode;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final long memPool;
    private final long releaseThreshold;
    /** Live root allocations: address handed out -> address the driver returned. */
    private final ConcurrentHashMap<Long, Long> live = new ConcurrentHashMap<>();
    private final HostStaging staging;
    private final CudaKernels kernels;
    private final Map<String, String> properties;
    private volatile boolean closed;

    /**
     * Opens GPU {@code ordinal} with raw allocation in the given mode.
     *
     * @throws CudaException              if the driver refuses (no such device, context creation failed, ...)
     * @throws IllegalStateException      if {@code libcuda.so.1} cannot be loaded
     * @throws UnsatisfiedLinkError       if JCuda's native library cannot be loaded
     */
    public CudaDevice(int ordinal, AllocMode allocMode) {
        String missing = DriverLibrary.missingReason();
        if (missing != null) {
            throw new IllegalStateException(missing);
        }
        CudaRuntime.init();
        this.ordinal = ordinal;
        this.id = "cuda:" + ordinal;
        this.allocMode = allocMode;
        CudaException.check(cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        CudaException.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        boolean opened = false;
        try {
            bind();
            CudaException.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
            PoolSetup setup = PoolSetup.of(allocMode);
            memPool = setup.apply(allocMode == AllocMode.ASYNC ? DriverLibrary.get() : null,
                    (int) JCudaHandles.address(device));
            releaseThreshold = setup.releaseThreshold();
            staging = new HostStaging(STAGING_CHUNK);
            kernels = CudaKernels.open(new Target());
            name = CudaRuntime.deviceName(device);
            Map<String, String> p = new LinkedHashMap<>(CudaRuntime.deviceProperties(device));
            p.put("allocation", setup.description());
            p.put("gemm", kernels.gemmDescription());
            p.put("kernels", "PTX " + PtxModule.ARCH + " (cuModuleLoadData)");
            p.put("staging", "2 x " + (STAGING_CHUNK >> 20) + " MiB pinned (cuMemAllocHost)");
            properties = Collections.unmodifiableMap(p);
            opened = true;
        } finally {
            if (!opened) {
                releasePartlyOpened();
            }
        }
    }

    /** Undoes what a constructor that failed half-way had set up (best effort; errors are ignored). */
    private void releasePartlyOpened() {
        if (staging != null) {
            staging.close();
        }
        if (JCudaHandles.address(stream) != 0) {
            cuStreamDestroy(stream);
        }
        if (CURRENT.get() == this) {
            CURRENT.remove();
        }
        cuDevicePrimaryCtxRelease(device);
    }

    /** Opens GPU {@code ordinal} with the allocation mode of the system property {@value AllocMode#PROPERTY}. */
    public CudaDevice(int ordinal) {
        this(ordinal, AllocMode.fromSystemProperty());
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public long minAlignment() {
        return MIN_ALIGNMENT;
    }

    /** Number of root buffers allocated and not yet freed (for leak checks). */
    public int liveAllocations() {
        return live.size();
    }

    /** How this device allocates raw memory. */
    public AllocMode allocMode() {
        return allocMode;
    }

    /** The CUDA device ordinal. */
    public int ordinal() {
        return ordinal;
    }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("negative allocation size " + byteSize + " on " + id);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
        }
        checkOpen();
        if (byteSize == 0) {
            return new DeviceBuffer(this, 0, 0, null);
        }
        long extra = Math.max(alignment, MIN_ALIGNMENT) - MIN_ALIGNMENT;
        long request = byteSize + extra;
        bind();
        CUdeviceptr p = new CUdeviceptr();
        int rc = allocMode == AllocMode.SYNC ? cuMemAlloc(p, request) : cuMemAllocAsync(p, request, stream);
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            throw new DeviceOutOfMemoryException(id, byteSize, (allocMode == AllocMode.SYNC ? "cuMemAlloc"
                    : "cuMemAllocAsync") + " returned CUDA_ERROR_OUT_OF_MEMORY; " + memoryInfo().freeBytes()
                    + " bytes free");
        }
        CudaException.check(rc, (allocMode == AllocMode.SYNC ? "cuMemAlloc(" : "cuMemAllocAsync(") + request + ")");
        long base = JCudaHandles.address(p);
        long address = (base + extra) & -Math.max(alignment, MIN_ALIGNMENT);
        live.put(address, base);
        return new DeviceBuffer(this, address, byteSize, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (buffer.device() != this) {
            throw new IllegalArgumentException(buffer + " belongs to " + buffer.device().id() + ", not to this "
                    + id + " device");
        }
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException(buffer + " is a slice; free the buffer it was sliced from");
        }
        if (buffer.byteSize() == 0 && buffer.address() == 0) {
            return;
        }
        Long base = live.remove(buffer.address());
        if (base == null) {
            throw new IllegalStateException(buffer + " is not live on " + id + " (freed twice?)");
        }
        checkOpen();
        bind();
        CUdeviceptr p = JCudaHandles.devicePointer(base);
        if (allocMode == AllocMode.SYNC) {
            // Work issued on the stream may still use the buffer; cuMemFree is not stream-ordered, so wait first
            // (as cudaFree's implicit device synchronisation would).
            CudaException.check(cuStreamSynchronize(stream), "cuStreamSynchronize");
            CudaException.check(cuMemFree(p), "cuMemFree");
        } else {
            CudaException.check(cuMemFreeAsync(p, stream), "cuMemFreeAsync");
        }
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        long d = address(dst, dstOffset, byteCount, "copyFromHost destination");
        if (srcOffset < 0 || srcOffset + byteCount > src.byteSize()) {
            throw new IndexOutOfBoundsException("copyFromHost source range [" + srcOffset + ", "
                    + (srcOffset + byteCount) + ") outside a segment of " + src.byteSize() + " bytes");
        }
        if (byteCount == 0) {
            return;
        }
        bind();
        staging.toDevice(src, srcOffset, d, byteCount, stream);
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
        long s = address(src, srcOffset, byteCount, "copyToHost source");
        if (dstOffset < 0 || dstOffset + byteCount > dst.byteSize()) {
            throw new IndexOutOfBoundsException("copyToHost destination range [" + dstOffset + ", "
                    + (dstOffset + byteCount) + ") outside a segment of " + dst.byteSize() + " bytes");
        }
        if (byteCount == 0) {
            synchronize();
            return;
        }
        bind();
        staging.toHost(s, dst, dstOffset, byteCount, stream);
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        long s = address(src, srcOffset, byteCount, "copy source");
        long d = address(dst, dstOffset, byteCount, "copy destination");
        if (byteCount == 0) {
            return;
        }
        bind();
        CudaException.check(cuMemcpyDtoDAsync(JCudaHandles.devicePointer(d), JCudaHandles.devicePointer(s),
                byteCount, stream), "cuMemcpyDtoDAsync(" + byteCount + ")");
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        if (count < 0) {
            throw new IllegalArgumentException("negative fill count " + count);
        }
        long d = address(dst, offset, count * dtype.byteSize(), "fill destination");
        if (count == 0) {
            return;
        }
        bind();
        kernels.fillBits(d, count, dtype.byteSize(), FillPattern.bits(dtype, value));
    }

    @Override
    public MemoryInfo memoryInfo() {
        checkOpen();
        bind();
        long[] free = new long[1];
        long[] total = new long[1];
        CudaException.check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new MemoryInfo(total[0], free[0]);
    }

    /**
     * In {@link AllocMode#ASYNC} mode, the driver pool's reserved bytes (what it holds from the GPU) and their
     * high-water mark; {@code {-1, -1}} in sync mode.
     */
    public long[] memPoolReservedBytes() {
        if (memPool == 0) {
            return new long[] {-1, -1};
        }
        DriverLibrary d = DriverLibrary.get();
        return new long[] {d.poolAttribute(memPool, DriverLibrary.ATTR_RESERVED_MEM_CURRENT),
                d.poolAttribute(memPool, DriverLibrary.ATTR_RESERVED_MEM_HIGH)};
    }

    /** In {@link AllocMode#ASYNC} mode, returns the pool's cached memory to the GPU ({@code cuMemPoolTrimTo(0)}). */
    public void trimMemPool() {
        if (memPool != 0) {
            synchronize();
            DriverLibrary.get().trimPool(memPool, 0);
        }
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public void synchronize() {
        checkOpen();
        bind();
        CudaException.check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    @Override
    public Map<String, String> properties() {
        return properties;
    }

    /** Synchronises, releases kernels, staging buffers, stream and the context reference. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        bind();
        cuStreamSynchronize(stream);
        closed = true;
        kernels.close();
        staging.close();
        cuStreamDestroy(stream);
        if (CURRENT.get() == this) {
            CURRENT.remove();
        }
        cuDevicePrimaryCtxRelease(device);
    }

    @Override
    public String toString() {
        return "CudaDevice[" + id + ", " + name + ", " + allocMode + "]";
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** Makes this device's context current on the calling thread (cheap when it already is). */
    void bind() {
        if (CURRENT.get() != this) {
            CudaException.check(cuCtxSetCurrent(context), "cuCtxSetCurrent(" + id + ")");
            CURRENT.set(this);
        }
    }

    CUstream stream() {
        return stream;
    }

    /** This device as its kernels see it. */
    private final class Target implements KernelTarget {
        @Override
        public long address(DeviceBuffer buffer, long offset, long bytes, String what) {
            return CudaDevice.this.address(buffer, offset, bytes, what);
        }

        @Override
        public void bind() {
            CudaDevice.this.bind();
        }

        @Override
        public long stream() {
            return JCudaHandles.address(stream);
        }

        @Override
        public long allocateScratch(long bytes) {
            CUdeviceptr p = new CUdeviceptr();
            CudaException.check(cuMemAlloc(p, bytes), "cuMemAlloc(" + bytes + ", kernel scratch)");
            return JCudaHandles.address(p);
        }

        @Override
        public void freeScratch(long address) {
            cuMemFree(JCudaHandles.devicePointer(address));
        }

        @Override
        public void toHost(long address, MemorySegment dst, long bytes) {
            staging.toHost(address, dst, 0, bytes, stream);
        }
    }

    /**
     * The raw address of byte {@code offset} of {@code buffer}, after checking that the buffer is this device's and
     * that {@code [offset, offset + bytes)} lies inside it.
     */
    long address(DeviceBuffer buffer, long offset, long bytes, String what) {
        if (buffer.device() != this) {
            throw new IllegalArgumentException(what + " " + buffer + " is not a buffer of " + id);
        }
        if (offset < 0 || bytes < 0 || offset + bytes > buffer.byteSize()) {
            throw new IndexOutOfBoundsException(what + ": range [" + offset + ", " + (offset + bytes) + ") outside "
                    + buffer);
        }
        checkOpen();
        return buffer.address() + offset;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(id + " is closed");
        }
    }
}
