package org.tensorbuffer;

/**
 * Where a {@link TensorContext} gets the memory of a new tensor.
 *
 * <p>Chosen per context, never globally, so two contexts in one JVM can compare strategies side by side.
 */
public enum AllocationStrategy {
    /** A raw device allocation for every tensor, freed on close: the baseline. */
    NONE,
    /** The reactive {@link org.tensorbuffer.memory.BufferPool}: size classes, free lists, LRU eviction. */
    REACTIVE,
    /**
     * The proactive {@link org.tensorbuffer.memory.TensorBuffer} first (reserved by shape), then the BufferPool on a
     * miss.
     */
    PROACTIVE,
    /**
     * Slices of one arena laid out ahead of time from a recorded run (liveness-based planning), with the BufferPool as
     * the fallback when the run diverges from the plan.
     */
    PLANNED;

    /**
     * Parses a command-line name ({@code none}, {@code reactive}, {@code proactive}, {@code planned}),
     * case-insensitively.
     *
     * @throws IllegalArgumentException naming the value and the valid names
     */
    public static AllocationStrategy parse(String name) {
        for (AllocationStrategy s : values()) {
            if (s.name().equalsIgnoreCase(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown strategy '" + name + "' (expected none, reactive, proactive or "
                + "planned)");
    }
}
