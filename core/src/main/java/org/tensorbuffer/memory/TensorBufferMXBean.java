package org.tensorbuffer.memory;

/**
 * The JMX view of a {@link TensorBuffer} (visible in JConsole under {@code org.tensorbuffer:type=TensorBuffer}). The
 * attributes are the fields of {@link TensorBufferStats}. A TensorBuffer that has been garbage-collected without being
 * closed reads as all zeros.
 */
public interface TensorBufferMXBean {
    /** The TensorBuffer's name. */
    String getName();

    /** The device id, e.g. {@code cpu}. */
    String getDevice();

    /** {@link TensorBufferStats#requests()}. */
    long getRequests();

    /** {@link TensorBufferStats#hits()}. */
    long getHits();

    /** {@link TensorBufferStats#misses()}. */
    long getMisses();

    /** {@link TensorBufferStats#hitRate()}. */
    double getHitRate();

    /** {@link TensorBufferStats#rawAllocations()}. */
    long getRawAllocations();

    /** {@link TensorBufferStats#rawFrees()}. */
    long getRawFrees();

    /** {@link TensorBufferStats#liveBytes()}. */
    long getLiveBytes();

    /** {@link TensorBufferStats#peakLiveBytes()}. */
    long getPeakLiveBytes();

    /** {@link TensorBufferStats#cachedBytes()}. */
    long getCachedBytes();

    /** {@link TensorBufferStats#reservedBytes()}. */
    long getReservedBytes();

    /** {@link TensorBufferStats#peakReservedBytes()}. */
    long getPeakReservedBytes();

    /** {@link TensorBufferStats#learnableBytes()}. */
    long getLearnableBytes();

    /** {@link TensorBufferStats#reservedBlocks()}. */
    long getReservedBlocks();

    /** {@link TensorBufferStats#shapes()}. */
    int getShapes();

    /** {@link TensorBuffer#resetPeak()}. */
    void resetPeak();
}
