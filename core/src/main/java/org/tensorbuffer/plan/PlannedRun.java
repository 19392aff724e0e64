package org.tensorbuffer.plan;

/**
 * A run of a {@link PlannedAllocator} as a try-with-resources handle: created by {@link PlannedAllocator#run()},
 * {@link #close()} ends the run.
 *
 * <pre>{@code
 * for (int step = 0; step < steps; step++) {
 *     try (PlannedRun run = ctx.planner().run()) {
 *         ... // one decode step
 *     }
 * }
 * }</pre>
 */
public final class PlannedRun implements AutoCloseable {
    private final PlannedAllocator allocator;
    private boolean closed;

    PlannedRun(PlannedAllocator allocator) {
        this.allocator = allocator;
    }

    /** The allocator. */
    public PlannedAllocator allocator() {
        return allocator;
    }

    /** Ends the run ({@link PlannedAllocator#endRun()}); a second call does nothing. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            allocator.endRun();
        }
    }
}
