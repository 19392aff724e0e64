package org.tensorbuffer.device;

/**
 * Memory of a device as its backend reports it, in bytes; {@code -1} where the backend does not know.
 *
 * @param totalBytes total memory the device has (or the artificial limit it was given)
 * @param freeBytes  memory not yet allocated
 */
public record MemoryInfo(long totalBytes, long freeBytes) {
    /** Both values unknown. */
    public static final MemoryInfo UNKNOWN = new MemoryInfo(-1, -1);
}
