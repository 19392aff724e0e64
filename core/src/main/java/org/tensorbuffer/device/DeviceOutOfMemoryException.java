package org.tensorbuffer.device;

/**
 * Thrown by {@link Device#allocate(long, long)} when the device cannot provide the memory. The pools catch it,
 * release what they cache, retry once, and then throw {@link org.tensorbuffer.memory.PoolOutOfMemoryException}.
 */
public class DeviceOutOfMemoryException extends RuntimeException {
    private final long requestedBytes;

    /**
     * @param deviceId       the device that is out of memory
     * @param requestedBytes the size of the failed request in bytes
     * @param detail         what the backend said (may be {@code null})
     */
    public DeviceOutOfMemoryException(String deviceId, long requestedBytes, String detail) {
        super("device " + deviceId + " is out of memory allocating " + requestedBytes + " bytes"
                + (detail == null ? "" : ": " + detail));
        this.requestedBytes = requestedBytes;
    }

    /** The size of the failed request in bytes. */
    public long requestedBytes() {
        return requestedBytes;
    }
}
