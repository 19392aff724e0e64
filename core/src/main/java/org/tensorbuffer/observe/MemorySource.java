package org.tensorbuffer.observe;

import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.RawAllocatorMetric;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.plan.PlannedAllocator;

/**
 * What {@link MemoryStats} and {@link MemoryHistory} observe: a set of allocators with context-wide counters and one
 * slot for an {@link AllocationListener}. Implemented by {@code org.tensorbuffer.TensorContext}; this interface lets
 * the observe package see a context without depending on the package that defines it.
 */
public interface MemorySource {
    /** The reactive pool. */
    BufferPool pool();

    /** The proactive TensorBuffer. */
    TensorBuffer tensorBuffer();

    /** The counters of the raw allocator (no caching). */
    RawAllocatorMetric raw();

    /** The liveness-based planner. */
    PlannedAllocator planner();

    /** The counters behind {@link MemoryStats#of(MemorySource)}: every allocation, free and reservation so far. */
    MemoryCounters memoryCounters();

    /** The installed listener, or {@code null}. */
    AllocationListener allocationListener();

    /**
     * Installs (or with {@code null} removes) the listener told of every tensor allocation and free and every device
     * reservation change from now on; one at a time (a new one replaces the old).
     */
    void allocationListener(AllocationListener listener);
}
