package org.tensorbuffer.memory;

/**
 * Thrown when a pool cannot get memory for a request even after giving back every cached block and retrying the
 * device allocation once. The message gives the requested, live, cached and limit bytes.
 */
public class PoolOutOfMemoryException extends RuntimeException {
    private final long requestedBytes;
    private final long liveBytes;
    private final long cachedBytes;
    private final long limitBytes;

    /**
     * @param pool           the pool's description
     * @param requestedBytes the request, in bytes (rounded to its size class)
     * @param liveBytes      bytes handed out at the time
     * @param cachedBytes    bytes still cached at the time (other threads' caches)
     * @param limitBytes     the device's total or limit in bytes, -1 if unknown
     * @param cause          the device's out-of-memory error
     */
    public PoolOutOfMemoryException(String pool, long requestedBytes, long liveBytes, long cachedBytes,
                                    long limitBytes, Throwable cause) {
        super(pool + " out of memory: requested " + requestedBytes + " bytes, live " + liveBytes + " bytes, cached "
                + cachedBytes + " bytes, limit " + (limitBytes < 0 ? "unknown" : limitBytes + " bytes"), cause);
        this.requestedBytes = requestedBytes;
        this.liveBytes = liveBytes;
        this.cachedBytes = cachedBytes;
        this.limitBytes = limitBytes;
    }

    /** Requested bytes. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Live bytes at the time of the failure. */
    public long liveBytes() {
        return liveBytes;
    }

    /** Cached bytes at the time of the failure. */
    public long cachedBytes() {
        return cachedBytes;
    }

    /** The device's limit in bytes, or -1. */
    public long limitBytes() {
        return limitBytes;
    }
}
