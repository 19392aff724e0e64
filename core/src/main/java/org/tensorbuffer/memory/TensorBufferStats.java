package org.tensorbuffer.memory;

/**
 * An immutable snapshot of a {@link TensorBuffer}'s statistics. Bytes are exact block sizes (reserved blocks are not
 * rounded to size classes).
 *
 * @param requests        {@link TensorBuffer#take} calls
 * @param hits            takes served from a reserved block
 * @param misses          takes that fell back to the {@link BufferPool} (no reservation, or all in use)
 * @param rawAllocations  device allocations made for reservations and learnable buffers
 * @param rawFrees        device frees made by {@code clear*} and {@code close}
 * @param liveBytes       bytes of reserved blocks handed out and not yet released
 * @param peakLiveBytes   high-water mark of {@code liveBytes}: exact when one thread takes and releases, otherwise an
 *                        upper bound (the sum of per-thread peaks; see {@link TensorBuffer})
 * @param cachedBytes     bytes of reserved blocks free to take
 * @param reservedBytes   bytes held from the device: reserved blocks (live or free) plus learnable buffers
 * @param peakReservedBytes high-water mark of {@code reservedBytes}
 * @param learnableBytes  bytes of learnable buffers
 * @param reservedBlocks  number of reserved (non-learnable) blocks
 * @param shapes          number of (shape, dtype) keys with reservations
 */
public record TensorBufferStats(long requests, long hits, long misses, long rawAllocations, long rawFrees,
                                long liveBytes, long peakLiveBytes, long cachedBytes, long reservedBytes,
                                long peakReservedBytes, long learnableBytes, long reservedBlocks, int shapes) {

    /** {@code hits / requests}, or 0 with no requests. */
    public double hitRate() {
        return requests == 0 ? 0.0 : (double) hits / requests;
    }
}
