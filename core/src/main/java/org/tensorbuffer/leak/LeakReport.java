package org.tensorbuffer.leak;

/**
 * One leak, as {@link LeakDetector} logs it and hands it to its listeners.
 *
 * @param kind           {@link Kind#UNREACHABLE} for a resource the garbage collector found unclosed,
 *                       {@link Kind#OUTSTANDING_AT_CLOSE} for buffers still handed out when their pool was closed
 * @param resource       what leaked, e.g. {@code Tensor[2, 3] F32 on cpu} or {@code BufferPool[cpu/default]}
 * @param count          number of leaked buffers (1 for an unreachable tensor)
 * @param bytes          leaked bytes
 * @param allocationSite stack of the allocation ({@code null} when not recorded, e.g. for pool-close reports)
 */
public record LeakReport(Kind kind, String resource, int count, long bytes, Throwable allocationSite) {
    /** How the leak was found. */
    public enum Kind {
        /** A tracked resource became unreachable without being closed; its memory was returned by a Cleaner. */
        UNREACHABLE,
        /** An allocator was closed while buffers it handed out were still live. */
        OUTSTANDING_AT_CLOSE
    }

    /** The log line (without the stack). */
    public String message() {
        return switch (kind) {
            case UNREACHABLE -> "LEAK: " + resource + " (" + bytes + " bytes) was garbage-collected without being "
                    + "closed; its memory has been returned. Close tensors (try-with-resources or a MemoryScope). "
                    + (allocationSite == null ? "Allocation site not recorded (level SAMPLED without a sample)."
                    : "Allocated at:");
            case OUTSTANDING_AT_CLOSE -> resource + " closed with " + count + " buffer(s) (" + bytes
                    + " bytes) still live: memory leaked";
        };
    }
}
