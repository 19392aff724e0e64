package org.tensorbuffer.memory;

/**
 * The counters of the allocator behind the {@code NONE} strategy, which caches nothing: every tensor is one device
 * allocation and every release frees it (the baseline the pools are measured against). As Netty's
 * {@code ByteBufAllocatorMetric}, the metric is public and the allocator is not; a context hands it out
 * ({@code TensorContext.raw()}). Counts are totals since the context was created; thread-safe.
 */
public interface RawAllocatorMetric {
    /** Device allocations made. */
    long rawAllocations();

    /** Device frees made. */
    long rawFrees();

    /** Bytes allocated and not yet freed. */
    long liveBytes();

    /** High-water mark of {@link #liveBytes()}. */
    long peakLiveBytes();

    /** Resets the peak to the current live bytes. */
    void resetPeak();
}
