package org.tensorbuffer.plan;

import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.ReservationListener;

/**
 * The {@code PLANNED} strategy: record a run, plan one arena, replay later runs into it, and fall back to the
 * reactive {@link BufferPool} when a run does not follow the plan.
 *
 * <h2>Life cycle</h2>
 * Work is grouped into runs ({@link #beginRun()} ... {@link #endRun()}, or {@link #run()} in try-with-resources),
 * e.g. one decode step or one einsum evaluation.
 * <ol>
 *   <li>Record: while no plan is installed (or after {@link #replan()}), a run is served by the pool and logged by a
 *       {@code Recorder}. At its end the trace is planned with the configured {@link PlanningAlgorithm} (by default
 *       the one giving the smallest arena, {@link PlanningAlgorithm#best}) and an {@code Arena} is allocated: one
 *       device allocation.</li>
 *   <li>Replay: the i-th allocation of a later run gets the arena slice planned for the i-th recorded tensor, if its
 *       shape, dtype and byte size match the record and no tensor sharing that slice's memory is still live.</li>
 *   <li>Divergence: the first allocation that does not match (another shape, more allocations than recorded, or a
 *       slice still held because a tensor escaped or lived longer than recorded) ends replay for that run: it and
 *       every later allocation of the run come from the pool. The run is counted in {@link PlanStats#divergentRuns()}
 *       with the reason in {@link PlanStats#lastDivergence()}. A run that ends with fewer allocations than planned is
 *       also counted (its results are unaffected). The next run tries the plan again; call {@link #replan()} when
 *       the workload has changed for good.</li>
 * </ol>
 * Allocations outside a run come from the pool. Replay never hands out memory that a live tensor uses, so a
 * divergent run computes the same results, only with pool allocations.
 *
 * <p>Thread-safety: the methods are synchronized, and a run's allocations must come in a deterministic order, so a
 * run is normally driven by one thread. Tensors may be released on any thread.
 */
public final class PlannedAllocator implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PlannedAllocator.class);

    private final BufferPool fallback;
    private final Device device;
    private final long alignment;
    private PlanningAlgorithm algorithm;          // null: best of all
    private MemoryPlan plan;
    private Arena arena;
    private Block[] slots;
    private int[][] neighbours;
    private Recorder recorder;
    private AllocationTrace lastTrace;
    private boolean replanRequested;
    private boolean inRun;
    private int cursor;
    private boolean diverged;
    /** Whether arena blocks of an earlier run were still out when this run began (escaped tensors). */
    private boolean carryOver;
    private boolean closed;
    private ReservationListener reservationListener;
    // stats
    private long runs;
    private long recordedRuns;
    private long replayedRuns;
    private long divergentRuns;
    private long plannedAllocations;
    private long fallbackAllocations;
    private long unplannedAllocations;
    private long arenaAllocations;
    private String lastDivergence;

    /** A planner over {@code fallback}'s device, recording and falling back through {@code fallback}. */
    public PlannedAllocator(BufferPool fallback) {
        this.fallback = Objects.requireNonNull(fallback, "fallback");
        this.device = fallback.device();
        this.alignment = Math.max(64, device.minAlignment());
    }

    /** The device. */
    public Device device() {
        return device;
    }

    /** The pool used while recording and after a divergence. */
    public BufferPool fallback() {
        return fallback;
    }

    /** Alignment of every planned tensor in bytes (64, or the device minimum if larger). */
    public long alignment() {
        return alignment;
    }

    /**
     * Sets the algorithm used for plans made from now on; {@code null} (the default) picks the best of all for each
     * trace.
     */
    public synchronized void algorithm(PlanningAlgorithm algorithm) {
        this.algorithm = algorithm;
    }

    /** The installed plan, or {@code null}. */
    public synchronized MemoryPlan plan() {
        return plan;
    }

    /** The trace of the last recorded run, or {@code null}. */
    public synchronized AllocationTrace lastTrace() {
        return lastTrace;
    }

    /** Whether a run is in progress. */
    public synchronized boolean inRun() {
        return inRun;
    }

    /**
     * Starts a run: recording if there is no plan (or a re-plan was asked for), replaying otherwise.
     *
     * @throws IllegalStateException if a run is already in progress or the allocator is closed
     */
    public synchronized void beginRun() {
        checkOpen();
        if (inRun) {
            throw new IllegalStateException("a run is already in progress");
        }
        inRun = true;
        runs++;
        cursor = 0;
        diverged = false;
        if (plan == null || replanRequested) {
            recorder = new Recorder();
        } else {
            carryOver = arena.outstandingBlocks() > 0;
        }
    }

    /** {@link #beginRun()} returning a handle whose {@code close()} is {@link #endRun()}. */
    public PlannedRun run() {
        beginRun();
        return new PlannedRun(this);
    }

    /**
     * Ends the run. After a recording run the trace is planned and the plan installed (allocating the arena);
     * after a replay, a run that stopped short of the plan is counted as divergent.
     *
     * @throws IllegalStateException if no run is in progress
     */
    public synchronized void endRun() {
        if (!inRun) {
            throw new IllegalStateException("no run in progress");
        }
        inRun = false;
        if (recorder != null) {
            AllocationTrace trace = recorder.finish();
            recorder = null;
            recordedRuns++;
            lastTrace = trace;
            replanRequested = false;
            install(algorithm == null ? PlanningAlgorithm.best(trace) : algorithm.plan(trace));
            return;
        }
        if (!diverged && cursor < plan.size()) {
            diverge("run ended after " + cursor + " of " + plan.size() + " planned allocations");
        }
        if (!diverged) {
            replayedRuns++;
        }
    }

    /**
     * Makes the next run a recording run whose plan replaces the current one (for a changed workload). The current
     * arena stays until then.
     */
    public synchronized void replan() {
        replanRequested = true;
    }

    /**
     * Installs {@code plan}: later runs replay it. Reuses the current arena if it is large enough and none of its
     * blocks is out; otherwise allocates a new one (the old one is freed once its last block is released).
     *
     * @throws IllegalStateException if a run is in progress or the allocator is closed
     * @throws org.tensorbuffer.memory.PoolOutOfMemoryException if the arena cannot be allocated
     */
    public synchronized void install(MemoryPlan plan) {
        checkOpen();
        if (inRun) {
            throw new IllegalStateException("cannot install a plan during a run");
        }
        if (plan.alignment() > alignment) {
            throw new IllegalArgumentException("plan needs alignment " + plan.alignment() + ", arena has "
                    + alignment);
        }
        long bytes = Math.max(plan.arenaBytes(), 1);
        if (arena == null || arena.byteSize() < bytes || arena.outstandingBlocks() > 0) {
            if (arena != null) {
                arena.close();
            }
            arena = Arena.allocate(device, bytes, alignment, reservationListener);
            arenaAllocations++;
        }
        Block[] s = new Block[plan.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = arena.block(plan.offset(i), plan.trace().get(i).bytes());
        }
        this.slots = s;
        this.neighbours = plan.memoryNeighbours();
        this.plan = plan;
        LOG.debug("installed {}", plan);
    }

    /**
     * A block for a tensor of {@code shape}/{@code dtype}: an arena slice when replaying on plan, else from the pool
     * (see the class comment).
     *
     * @throws IllegalStateException if the allocator is closed
     * @throws org.tensorbuffer.memory.PoolOutOfMemoryException if the pool cannot allocate
     */
    public synchronized Block take(Shape shape, DType dtype) {
        checkOpen();
        long bytes = shape.byteSize(dtype);
        if (!inRun) {
            unplannedAllocations++;
            return fallback.take(bytes);
        }
        if (recorder != null) {
            fallbackAllocations++;
            return recorder.record(fallback.take(bytes), shape, dtype, alignment);
        }
        if (!diverged) {
            Block b = replay(shape, dtype, bytes);
            if (b != null) {
                plannedAllocations++;
                return b;
            }
        }
        fallbackAllocations++;
        return fallback.take(bytes);
    }

    private Block replay(Shape shape, DType dtype, long bytes) {
        int i = cursor++;
        if (i >= plan.size()) {
            diverge("allocation " + i + " (" + shape + " " + dtype + ") is beyond the " + plan.size()
                    + " planned allocations");
            return null;
        }
        AllocationRecord r = plan.trace().get(i);
        if (!r.matches(shape, dtype, bytes)) {
            diverge("allocation " + i + " is " + shape + " " + dtype + " (" + bytes + " B), planned "
                    + r.describe());
            return null;
        }
        Block slot = slots[i];
        if (slot.refCnt() != 0) {
            diverge("allocation " + i + ": its slice is still held by a tensor of an earlier run (escaped)");
            return null;
        }
        // Memory neighbours allocated later in the run (j > i) can only be held if they escaped an earlier run;
        // without such leftovers only the earlier ones (j < i, which should be dead by now) need a look.
        for (int j : neighbours[i]) {
            if (j > i && !carryOver) {
                break;
            }
            if (slots[j].refCnt() != 0) {
                diverge("allocation " + i + ": its memory is still held by " + plan.trace().get(j).describe()
                        + " (escaped or released later than recorded)");
                return null;
            }
        }
        return arena.hand(slot);
    }

    private void diverge(String reason) {
        diverged = true;
        divergentRuns++;
        lastDivergence = "run " + runs + ": " + reason;
        LOG.debug("plan divergence: {}", lastDivergence);
    }

    /**
     * Sets (or with {@code null} removes) the listener told when an arena is allocated and freed (arenas allocated
     * from now on).
     */
    public synchronized void reservationListener(ReservationListener listener) {
        this.reservationListener = listener;
    }

    /** Device allocations made for arenas (the pool's are counted by the pool). */
    public synchronized long rawAllocations() {
        return arenaAllocations;
    }

    /** A snapshot of the counters. */
    public synchronized PlanStats stats() {
        return new PlanStats(runs, recordedRuns, replayedRuns, divergentRuns, plannedAllocations, fallbackAllocations,
                unplannedAllocations, arenaAllocations, arena == null ? 0 : arena.byteSize(), lastDivergence);
    }

    /** The current arena, or {@code null}. */
    synchronized Arena arena() {
        return arena;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("PlannedAllocator is closed");
        }
    }

    /**
     * Frees the arena (once its outstanding blocks, if any, are released; such blocks are reported through the
     * {@link LeakDetector}, as the pools report theirs).
     * Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (arena != null) {
            int out = arena.outstandingBlocks();
            if (out > 0) {
                // reported like the pools' leaks; the whole arena stays allocated until the last block comes back
                LeakDetector.reportOutstanding(toString(), out, arena.byteSize());
            }
            arena.close();
        }
    }

    @Override
    public synchronized String toString() {
        return "PlannedAllocator[" + device.id() + ", " + (plan == null ? "no plan" : plan.summary().trim()) + "]";
    }
}
