package org.tensorbuffer.observe;

import java.util.List;

/**
 * One event of a {@link MemoryHistory}.
 *
 * @param seq           sequence number since recording started (gaps mean the ring buffer dropped events)
 * @param timeNanos     nanoseconds since recording started
 * @param kind          what happened
 * @param bytes         bytes of the block (ALLOC/FREE: block capacity; RESERVE/UNRESERVE: device bytes)
 * @param pool          the allocator, e.g. {@code BufferPool[cpu/default]}
 * @param shape         the tensor's shape for ALLOC/FREE (e.g. {@code [2, 3]}), else empty; empty for the FREE of a
 *                      tensor allocated before recording started
 * @param dtype         the tensor's dtype for ALLOC/FREE, else empty
 * @param strategy      the context's strategy at allocation for ALLOC/FREE, else empty
 * @param allocId       id pairing an ALLOC with its FREE ({@code seq} of the ALLOC); -1 for RESERVE/UNRESERVE and
 *                      for the FREE of a tensor allocated before recording started
 * @param liveBytes     live bytes after the event: block bytes of every tensor of the context not yet freed, including
 *                      those allocated before recording started (weights, caches)
 * @param reservedBytes reserved bytes after the event (device memory held by the context's allocators)
 * @param address       device address of the block (ALLOC/FREE) or of the device allocation (RESERVE/UNRESERVE)
 * @param requestedBytes bytes the tensor asked for (ALLOC/FREE, at most {@code bytes}); equal to {@code bytes} else
 * @param frames        allocation stack, innermost first (ALLOC with stacks on; FREE repeats its ALLOC's), else
 *                      {@code null}
 */
public record MemoryEvent(long seq, long timeNanos, Kind kind, long bytes, String pool, String shape, String dtype,
                          String strategy, long allocId, long liveBytes, long reservedBytes, long address,
                          long requestedBytes, List<StackTraceElement> frames) {
    /** Event kinds. */
    public enum Kind {
        /** A tensor got a block. */
        ALLOC,
        /** A block's last reference was released. */
        FREE,
        /** An allocator took memory from the device. */
        RESERVE,
        /** An allocator gave memory back to the device. */
        UNRESERVE
    }

    /** The frames one per line ({@link StackTraceElement#toString()}), or {@code null} when not recorded. */
    public String stack() {
        if (frames == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        for (StackTraceElement f : frames) {
            sb.append(f).append('\n');
        }
        return sb.toString();
    }
}
