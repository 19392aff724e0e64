package org.tensorbuffer.device;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.tensorbuffer.types.DType;

/**
 * A compute device: raw memory, host/device copies and the {@link Kernels} the Tensor API runs on.
 *
 * <p>This is the lowest layer: every call to {@link #allocate} is a real device allocation (a {@code malloc}, a
 * {@code cuMemAlloc}, a {@code vmaCreateBuffer}); the pools above it exist to make those calls rare. Offsets and
 * sizes are in bytes unless a parameter says elements.
 *
 * <p>Implementations are thread-safe. Work may be asynchronous (CUDA streams, Vulkan command buffers): kernels and
 * device-to-device copies are ordered with each other on the device's one queue, {@link #copyToHost} waits for all
 * earlier work, and {@link #synchronize()} waits explicitly. A buffer may be freed or reused as soon as the calls that
 * use it have been issued (stream-ordered semantics).
 */
public interface Device extends AutoCloseable {
    /** Stable id used by {@link Devices#get(String)} and on the command line, e.g. {@code cpu}, {@code cuda:0}. */
    String id();

    /** Human-readable name, e.g. the GPU model. */
    String name();

    /** The family of the device. */
    DeviceKind kind();

    /** Alignment in bytes that every allocation has at least (64 on the CPU: one cache line). */
    long minAlignment();

    /**
     * Allocates {@code byteSize} bytes of uninitialised device memory aligned to at least {@code alignment} bytes.
     * A zero-byte request returns a valid buffer of size 0.
     *
     * @param byteSize  bytes to allocate, {@code >= 0}
     * @param alignment a power of two; values below {@link #minAlignment()} are raised to it
     * @throws DeviceOutOfMemoryException if the device has no memory for it
     * @throws IllegalArgumentException   if {@code byteSize < 0} or {@code alignment} is not a power of two
     */
    DeviceBuffer allocate(long byteSize, long alignment);

    /**
     * Returns a buffer from {@link #allocate} to the device. Freeing a slice, a buffer of another device or a buffer
     * twice throws {@link IllegalArgumentException} or {@link IllegalStateException} where the backend can tell.
     */
    void free(DeviceBuffer buffer);

    /** Copies {@code byteCount} bytes from host memory into {@code dst} at {@code dstOffset}. */
    void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount);

    /** Copies {@code byteCount} bytes from {@code src} at {@code srcOffset} to host memory, after earlier work. */
    void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset, long byteCount);

    /** Copies {@code byteCount} bytes between two buffers of this device (ranges may not overlap). */
    void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount);

    /**
     * Sets {@code count} elements of type {@code dtype} starting at {@code offset} to {@code value} (converted to the
     * type as a Java cast would; F16/BF16 round to nearest even).
     */
    void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value);

    /** Total and free memory as far as the backend knows. */
    MemoryInfo memoryInfo();

    /** The compute kernels of this device. */
    Kernels kernels();

    /** Waits until all work issued to the device so far has finished. */
    void synchronize();

    /**
     * Sets up ahead, where the backend can, what the kernels of {@code step} need on their first run, by running
     * {@code step} on the calling thread (possibly more than once) without doing its work: its kernels and copies do
     * nothing, reads to the host return unspecified values, allocations and frees are real. For a caller who knows
     * the step's buffers before it runs, e.g. a proactive {@code TensorBuffer} holding every
     * buffer of a recorded step: the Vulkan backend makes the descriptor set of every distinct buffer binding of the
     * step, which the step's first real run would otherwise make. The step must not depend on values it reads from
     * the device, and must take its buffers from the same blocks when it really runs for the work to count.
     *
     * <p>The default runs nothing and returns 0 (the CPU and CUDA backends have nothing to set up per binding).
     *
     * @param step what to run ahead, e.g. one decode step
     * @return device objects created ahead (Vulkan: descriptor sets); 0 where there is nothing to prepare
     * @throws IllegalStateException if the device is closed or the calling thread is already preparing
     */
    default int prepare(Runnable step) {
        return 0;
    }

    /**
     * Captures {@code step} into a {@link StepGraph} that {@link StepGraph#replay() replays} its device work without
     * running its Java code again (the analogue of a CUDA graph, PyTorch's {@code torch.cuda.CUDAGraph}): the step
     * runs once on the calling thread, its kernels and device copies are recorded, not run, and each replay submits
     * them again with the same buffers. Whatever changes from one replay to the next must therefore live in device
     * memory: write it into the step's input buffers ({@link #copyFromHost}) before each replay, and use the
     * tensor-indexed kernels ({@link Kernels#ropeAt}, {@link Kernels#attentionAt}, {@link Kernels#gatherRow},
     * {@link Kernels#scatterRow}, {@link Kernels#argmaxInto}) where a value would otherwise be baked into the
     * recording. Inside the step, reads to the host ({@link #copyToHost}, {@link Kernels#argmax}), host writes
     * ({@link #copyFromHost}) and {@link #synchronize()} throw {@link IllegalStateException}; allocations and frees are
     * real. Other threads' calls wait until the capture ends.
     *
     * <p>Memory (as a CUDA graph's private pool): every buffer the step binds stays allocated while the graph lives
     * (a {@link #free} of one is deferred until the graph is closed), and the caller must keep blocks that the step
     * took from a pool and gave back away from anyone else while the graph lives, since every replay writes them
     * again: e.g. hold them taken (a proactive {@code TensorBuffer}'s reserved blocks are exactly the step's). The
     * step's outputs are read after a replay from the same buffers.
     *
     * <p>The default returns {@link java.util.Optional#empty()}: the device does not capture, and the caller runs the
     * step eagerly (the CPU device runs each op at once on the calling thread, so there is nothing to record; CUDA and
     * meta do not implement it). The Vulkan device records the step into one reusable command buffer and a replay is
     * one {@code vkQueueSubmit}.
     *
     * @param step what to capture, e.g. one decode step
     * @return the graph, or empty where the device does not capture
     * @throws IllegalStateException if the device is closed, a capture is already under way on it, or the step did
     *                               something that cannot be captured (nothing stays recorded then)
     */
    default java.util.Optional<StepGraph> capture(Runnable step) {
        return java.util.Optional.empty();
    }

    /** Backend facts for the {@code devices} command (driver, memory, which GEMM is in use, ...). */
    Map<String, String> properties();

    /** Releases the device's context and caches; buffers still allocated become invalid. */
    @Override
    void close();
}
