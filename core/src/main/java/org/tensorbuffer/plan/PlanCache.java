package org.tensorbuffer.plan;

import java.util.HashMap;
import java.util.Map;
import org.tensorbuffer.memory.ShapeBuckets;

/**
 * One {@link MemoryPlan} per shape signature for a {@link PlannedAllocator} whose runs change shape (a prompt of
 * {@code T} tokens, then decode steps): the first run of a signature is recorded and its plan cached; a later run of
 * the same signature installs the cached plan (reusing the arena when it is large enough) and replays it. A run that
 * still diverges from its plan falls back to the pool as {@link PlannedAllocator} always does.
 *
 * <p>Signatures are compared with {@code equals} (e.g. {@code "prefill/37"}, {@code "step"}). Not thread-safe: one
 * run at a time, as the allocator.
 */
public final class PlanCache {
    private final PlannedAllocator allocator;
    private final Map<Object, MemoryPlan> plans = new HashMap<>();
    private Object current;
    private boolean recording;
    private long hits;
    private long misses;

    /** A cache over {@code allocator}. */
    public PlanCache(PlannedAllocator allocator) {
        this.allocator = allocator;
    }

    /**
     * Starts a run of {@code signature}: replays its cached plan, or records one if there is none.
     *
     * @return the run's handle; closing it ends the run and caches a recorded plan
     * @throws IllegalStateException if a run is in progress
     */
    public Run run(Object signature) {
        return run(signature, null);
    }

    /**
     * Starts a run of {@code signature} as {@link #run(Object)} with its tensors taken at their bucket's shape
     * ({@link PlannedAllocator#beginRun(ShapeBuckets)}), so that one plan serves every leading axis of a bucket: the
     * signature should name the bucket (e.g. {@code "prefill/128"} for prompts of 65 to 128 tokens).
     *
     * @param buckets the run's buckets, or {@code null} for exact shapes
     * @throws IllegalStateException if a run is in progress
     */
    public Run run(Object signature, ShapeBuckets buckets) {
        if (allocator.inRun()) {
            throw new IllegalStateException("a run is already in progress");
        }
        MemoryPlan p = plans.get(signature);
        if (p == null) {
            misses++;
            recording = true;
            allocator.replan();
        } else {
            hits++;
            recording = false;
            if (allocator.plan() != p) {
                allocator.install(p);
            }
        }
        current = signature;
        allocator.beginRun(buckets);
        return new Run();
    }

    /**
     * Caches {@code plan} for {@code signature} ahead of its first run (e.g. a plan made by
     * {@link PlannedAllocator#planFor} from a trace recorded on the {@code meta} device), replacing any plan it had:
     * the first run of the signature then replays it instead of recording.
     *
     * @throws IllegalStateException if a run of {@code signature} is in progress
     */
    public void put(Object signature, MemoryPlan plan) {
        java.util.Objects.requireNonNull(plan, "plan");
        if (current != null && current.equals(signature)) {
            throw new IllegalStateException("a run of " + signature + " is in progress");
        }
        plans.put(signature, plan);
    }

    /** Number of distinct signatures planned so far. */
    public int size() {
        return plans.size();
    }

    /** Runs that found their signature's plan. */
    public long hits() {
        return hits;
    }

    /** Runs that recorded a new plan. */
    public long misses() {
        return misses;
    }

    /** The cached plan of {@code signature}, or {@code null}. */
    public MemoryPlan plan(Object signature) {
        return plans.get(signature);
    }

    private void end() {
        allocator.endRun();
        if (recording) {
            plans.put(current, allocator.plan());
        }
        current = null;
        recording = false;
    }

    /** A run of one signature as a try-with-resources handle. */
    public final class Run implements AutoCloseable {
        private boolean closed;

        private Run() {
        }

        /** Ends the run; a second call does nothing. */
        @Override
        public void close() {
            if (!closed) {
                closed = true;
                end();
            }
        }
    }
}
