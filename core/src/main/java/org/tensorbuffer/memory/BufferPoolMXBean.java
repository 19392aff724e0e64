package org.tensorbuffer.memory;

import java.util.Map;

/**
 * The JMX view of a {@link BufferPool} (visible in JConsole under {@code org.tensorbuffer:type=BufferPool}). The
 * attributes are the fields of {@link PoolStats} (bytes are size-class bytes), plus per-size-class counters. A pool
 * that has been garbage-collected without being closed reads as all zeros.
 */
public interface BufferPoolMXBean {
    /** The pool's name. */
    String getName();

    /** The device id, e.g. {@code cpu}. */
    String getDevice();

    /** Whether the pool is closed. */
    boolean isClosed();

    /** {@link PoolStats#requests()}. */
    long getRequests();

    /** {@link PoolStats#hits()}. */
    long getHits();

    /** {@link PoolStats#misses()}. */
    long getMisses();

    /** {@link PoolStats#hitRate()}. */
    double getHitRate();

    /** {@link PoolStats#rawAllocations()}. */
    long getRawAllocations();

    /** {@link PoolStats#rawFrees()}. */
    long getRawFrees();

    /** {@link PoolStats#evictions()}. */
    long getEvictions();

    /** {@link PoolStats#liveBytes()}. */
    long getLiveBytes();

    /** {@link PoolStats#peakLiveBytes()}. */
    long getPeakLiveBytes();

    /** {@link PoolStats#cachedBytes()}. */
    long getCachedBytes();

    /** {@link PoolStats#reservedBytes()}. */
    long getReservedBytes();

    /** {@link PoolStats#peakReservedBytes()}. */
    long getPeakReservedBytes();

    /** {@link PoolStats#allocRetries()}. */
    long getAllocRetries();

    /** {@link PoolStats#ooms()}. */
    long getOoms();

    /** {@link PoolStats#budgetBytes()}. */
    long getBudgetBytes();

    /** Requests per size class, keyed by the class size in bytes (classes with at least one request). */
    Map<String, Long> getSizeClassRequests();

    /** Hits per size class, keyed as {@link #getSizeClassRequests()}. */
    Map<String, Long> getSizeClassHits();

    /** {@link BufferPool#emptyCache()}. */
    void emptyCache();

    /** {@link BufferPool#resetPeak()}. */
    void resetPeak();
}
