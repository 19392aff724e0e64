package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;

/**
 * Two pinned (page-locked, {@code cuMemAllocHost}) host buffers through which a {@link CudaDevice} copies between
 * Java/host memory and the device.
 *
 * <p>Copies go in chunks of at most {@link #chunkBytes()} bytes, alternating between the two buffers: while the DMA
 * engine moves one chunk, the CPU fills (or drains) the other. An event per buffer says when the device is done with
 * it. Pinned memory is what lets {@code cuMemcpy*Async} run truly asynchronously and at full PCIe/NVLink speed; the
 * caller's memory may be anything a {@link MemorySegment} can be (heap arrays included).
 *
 * <p>Thread-safe: copies are serialised on this object. Must be used with the owning device's context current.
 */
final class HostStaging implements AutoCloseable {
    private final long chunkBytes;
    private final Pointer[] host = new Pointer[2];
    private final MemorySegment[] segment = new MemorySegment[2];
    private final CUevent[] done = new CUevent[2];
    private int next;
    private boolean closed;

    /** Allocates two pinned buffers of {@code chunkBytes} each (the device's context must be current). */
    HostStaging(long chunkBytes) {
        this.chunkBytes = chunkBytes;
        for (int i = 0; i < 2; i++) {
            host[i] = new Pointer();
            CudaException.check(cuMemAllocHost(host[i], chunkBytes), "cuMemAllocHost(" + chunkBytes + ")");
            segment[i] = MemorySegment.ofAddress(JCudaHandles.address(host[i])).reinterpret(chunkBytes);
            done[i] = new CUevent();
            CudaException.check(cuEventCreate(done[i], CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
        }
    }

    /** Bytes per chunk (per pinned buffer). */
    long chunkBytes() {
        return chunkBytes;
    }

    /**
     * Copies {@code byteCount} bytes of {@code src} at {@code srcOffset} to device address {@code dstAddress},
     * ordered on {@code stream}. Returns once {@code src} has been read (the device side may still be in flight).
     */
    synchronized void toDevice(MemorySegment src, long srcOffset, long dstAddress, long byteCount, CUstream stream) {
        checkOpen();
        long doneBytes = 0;
        while (doneBytes < byteCount) {
            int i = next;
            next ^= 1;
            long n = Math.min(chunkBytes, byteCount - doneBytes);
            CudaException.check(cuEventSynchronize(done[i]), "cuEventSynchronize");
            MemorySegment.copy(src, srcOffset + doneBytes, segment[i], 0, n);
            CudaException.check(cuMemcpyHtoDAsync(JCudaHandles.devicePointer(dstAddress + doneBytes), host[i], n,
                    stream), "cuMemcpyHtoDAsync(" + n + ")");
            CudaException.check(cuEventRecord(done[i], stream), "cuEventRecord");
            doneBytes += n;
        }
    }

    /**
     * Copies {@code byteCount} bytes from device address {@code srcAddress} into {@code dst} at {@code dstOffset},
     * after all earlier work on {@code stream}; returns when {@code dst} holds them.
     */
    synchronized void toHost(long srcAddress, MemorySegment dst, long dstOffset, long byteCount, CUstream stream) {
        checkOpen();
        long issued = 0;
        int pending = -1;
        long pendingOffset = 0;
        long pendingBytes = 0;
        while (issued < byteCount || pending >= 0) {
            int current = -1;
            long n = 0;
            if (issued < byteCount) {
                current = next;
                next ^= 1;
                n = Math.min(chunkBytes, byteCount - issued);
                CudaException.check(cuEventSynchronize(done[current]), "cuEventSynchronize");
                CudaException.check(cuMemcpyDtoHAsync(host[current], JCudaHandles.devicePointer(srcAddress + issued),
                        n, stream), "cuMemcpyDtoHAsync(" + n + ")");
                CudaException.check(cuEventRecord(done[current], stream), "cuEventRecord");
            }
            if (pending >= 0) {
                CudaException.check(cuEventSynchronize(done[pending]), "cuEventSynchronize");
                MemorySegment.copy(segment[pending], 0, dst, dstOffset + pendingOffset, pendingBytes);
            }
            pending = current;
            pendingOffset = issued;
            pendingBytes = n;
            issued += n;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("host staging buffers already released (device closed)");
        }
    }

    /** Waits for pending copies and frees the pinned buffers. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < 2; i++) {
            cuEventSynchronize(done[i]);
            cuEventDestroy(done[i]);
            cuMemFreeHost(host[i]);
        }
    }
}
