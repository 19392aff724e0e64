package org.tensorbuffer.observe;

/**
 * One event of a {@link MemoryHistory}.
 *
 * @param seq           sequence number since recording started (gaps mean the ring buffer dropped events)
 * @param timeNanos     nanoseconds since recording started
 * @param kind          what happened
 * @param bytes         bytes of the block (ALLOC/FREE: block capacity; RESERVE/UNRESERVE: device bytes)
 * @param pool          the allocator, e.g. {@code BufferPool[cpu/default]}
 * @param shape         the tensor's shape for ALLOC/FREE (e.g. {@code [2, 3]}), else empty
 * @param dtype         the tensor's dtype for ALLOC/FREE, else empty
 * @param strategy      the context's strategy at allocation for ALLOC/FREE, else empty
 * @param allocId       id pairing an ALLOC with its FREE ({@code seq} of the ALLOC); -1 for RESERVE/UNRESERVE
 * @param liveBytes     live (allocated) bytes after the event, as recorded by the history
 * @param reservedBytes reserved bytes after the event
 * @param stack         allocation stack (ALLOC with stacks on; FREE repeats its ALLOC's), else {@code null}
 */
public record MemoryEvent(long seq, long timeNanos, Kind kind, long bytes, String pool, String shape, String dtype,
                          String strategy, long allocId, long liveBytes, long reservedBytes, String stack) {
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
}
