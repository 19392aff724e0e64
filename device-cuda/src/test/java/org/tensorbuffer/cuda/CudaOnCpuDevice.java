package org.tensorbuffer.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;
import org.tensorbuffer.types.DType;

/**
 * A {@link Device} whose kernels are the CUDA backend's own {@link CudaKernels} (argument checks, launch shapes,
 * {@link KernelArgs}, {@link PtxModule}, the tiled GEMM) running {@code kernels.cu} on the CPU through
 * {@link CudaOnCpu}. Memory is guarded host memory; copies are plain memory copies. Only for tests.
 */
final class CudaOnCpuDevice implements Device {
    private final CudaOnCpu shim;
    private final Map<Long, Long> live = new ConcurrentHashMap<>();
    private final PtxModule module;
    private final CudaKernels kernels;

    CudaOnCpuDevice(CudaOnCpu shim) {
        this.shim = shim;
        this.module = new PtxModule(shim);
        this.kernels = new CudaKernels(new Target(), module, new TiledGemm(module, 0));
    }

    /** The module the kernels launch through (for direct launches of kernels the Kernels API does not reach). */
    PtxModule module() {
        return module;
    }

    @Override
    public String id() {
        return "cuda-on-cpu:0";
    }

    @Override
    public String name() {
        return "kernels.cu on the CPU (cuda_on_cpu.h)";
    }

    @Override
    public DeviceKind kind() {
        return DeviceKind.CUDA;
    }

    @Override
    public long minAlignment() {
        return 256;
    }

    @Override
    public DeviceBuffer allocate(long byteSize, long alignment) {
        long a = shim.allocate(Math.max(1, byteSize));
        live.put(a, byteSize);
        return new DeviceBuffer(this, a, byteSize, null);
    }

    @Override
    public void free(DeviceBuffer buffer) {
        if (live.remove(buffer.address()) == null) {
            throw new IllegalStateException(buffer + " is not live");
        }
        shim.release(buffer.address());
    }

    private static MemorySegment memory(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        MemorySegment.copy(src, srcOffset, memory(address(dst, dstOffset, byteCount, "copyFromHost"), byteCount), 0,
                byteCount);
    }

    @Override
    public void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount) {
        MemorySegment.copy(memory(address(src, srcOffset, byteCount, "copyToHost"), byteCount), 0, dst, dstOffset,
                byteCount);
    }

    @Override
    public void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        MemorySegment.copy(memory(address(src, srcOffset, byteCount, "copy"), byteCount), 0,
                memory(address(dst, dstOffset, byteCount, "copy"), byteCount), 0, byteCount);
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        long d = address(dst, offset, count * dtype.byteSize(), "fill");
        if (count > 0) {
            kernels.fillBits(d, count, dtype.byteSize(), FillPattern.bits(dtype, value));
        }
    }

    @Override
    public MemoryInfo memoryInfo() {
        return new MemoryInfo(Runtime.getRuntime().maxMemory(), Runtime.getRuntime().freeMemory());
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public void synchronize() {
        // launches run to completion before they return
    }

    @Override
    public Map<String, String> properties() {
        return Map.of("kernels", "kernels.cu on host threads", "gemm", kernels.gemmDescription());
    }

    @Override
    public void close() {
        kernels.close();
    }

    private long address(DeviceBuffer buffer, long offset, long bytes, String what) {
        if (buffer.device() != this) {
            throw new IllegalArgumentException(what + " " + buffer + " is not a buffer of " + id());
        }
        if (offset < 0 || bytes < 0 || offset + bytes > buffer.byteSize()) {
            throw new IndexOutOfBoundsException(what + ": range [" + offset + ", " + (offset + bytes)
                    + ") outside " + buffer);
        }
        return buffer.address() + offset;
    }

    private final class Target implements KernelTarget {
        @Override
        public long address(DeviceBuffer buffer, long offset, long bytes, String what) {
            return CudaOnCpuDevice.this.address(buffer, offset, bytes, what);
        }

        @Override
        public void bind() {
        }

        @Override
        public long stream() {
            return 0;
        }

        @Override
        public long allocateScratch(long bytes) {
            return shim.allocate(bytes);
        }

        @Override
        public void freeScratch(long address) {
            shim.release(address);
        }

        @Override
        public void toHost(long address, MemorySegment dst, long bytes) {
            MemorySegment.copy(memory(address, bytes), 0, dst, 0, bytes);
        }
    }
}
