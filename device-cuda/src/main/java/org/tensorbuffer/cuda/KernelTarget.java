package org.tensorbuffer.cuda;

import java.lang.foreign.MemorySegment;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * What {@link CudaKernels} needs from its device besides the kernel module: buffer checks, the context, the stream,
 * scratch memory and one synchronous read back to the host. {@link CudaDevice} provides it on a GPU; the CUDA-on-CPU
 * tests provide host memory. Implementations must be thread-safe.
 */
interface KernelTarget {
    /**
     * The raw address of byte {@code offset} of {@code buffer}, after checking that the buffer belongs to the device
     * and that {@code [offset, offset + bytes)} lies inside it.
     *
     * @throws IllegalArgumentException  for another device's buffer
     * @throws IndexOutOfBoundsException for a range outside the buffer
     */
    long address(DeviceBuffer buffer, long offset, long bytes, String what);

    /** Makes the device's context current on the calling thread. */
    void bind();

    /** The raw {@code CUstream} every launch goes to. */
    long stream();

    /** {@code bytes} of device memory for the kernels' own use (at least 256-byte aligned). */
    long allocateScratch(long bytes);

    /** Frees what {@link #allocateScratch} returned. */
    void freeScratch(long address);

    /** Copies {@code bytes} from device address {@code address} to {@code dst} after the stream's work; waits. */
    void toHost(long address, MemorySegment dst, long bytes);
}
