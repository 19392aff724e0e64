package org.tensorbuffer.memory;

/**
 * An immutable snapshot of a {@link BufferPool}'s statistics. Byte figures are block (size-class) bytes.
 *
 * <p>Counters kept per thread are summed when the snapshot is taken: exact when the pool is quiescent (after
 * {@code Thread.join}), a close approximation while other threads run. {@code peakLiveBytes} is exact for a pool used
 * from one thread; with several threads it is the sum of the per-thread high-water marks, an upper bound of the true
 * peak (the price of a hit path without a global lock; PyTorch's allocator takes a mutex instead).
 *
 * @param requests           blocks asked for
 * @param hits               requests served from a cache (thread cache or shared free lists)
 * @param misses             requests that needed a raw device allocation
 * @param rawAllocations     raw device allocations made
 * @param rawFrees           raw device frees made
 * @param evictions          cached blocks freed to respect the budget, the per-class cap, or out of memory
 * @param liveBytes          bytes in blocks handed out and not yet released
 * @param peakLiveBytes      high-water mark of {@code liveBytes} since creation or {@link BufferPool#resetPeak()}
 * @param cachedBytes        bytes in free blocks the pool keeps ({@code reservedBytes - liveBytes})
 * @param reservedBytes      bytes the pool holds from the device (live + cached)
 * @param peakReservedBytes  high-water mark of {@code reservedBytes}
 * @param allocRetries       raw allocations retried after an out-of-memory error and emptying the caches
 * @param ooms               requests that failed with {@link PoolOutOfMemoryException}
 * @param budgetBytes        the cached-bytes budget
 */
public record PoolStats(long requests, long hits, long misses, long rawAllocations, long rawFrees, long evictions,
                        long liveBytes, long peakLiveBytes, long cachedBytes, long reservedBytes,
                        long peakReservedBytes, long allocRetries, long ooms, long budgetBytes) {

    /** {@code hits / requests}, or 0 with no requests. */
    public double hitRate() {
        return requests == 0 ? 0.0 : (double) hits / requests;
    }
}
