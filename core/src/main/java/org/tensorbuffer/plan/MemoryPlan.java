package org.tensorbuffer.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Phase 2's result: an offset in one arena for every tensor of an {@link AllocationTrace}, such that tensors whose
 * lifetimes overlap occupy disjoint byte ranges.
 *
 * <p>Sizes are in bytes; a tensor occupies {@code [offset(i), offset(i) + paddedBytes(i))}. The arena size is the
 * highest end; the {@link #lowerBound()} is the trace's maximum of live (padded) bytes over time, which no plan can
 * beat, so {@link #ratio()} {@code = arenaBytes / lowerBound >= 1} measures how much the placement wastes.
 *
 * <p>Immutable and thread-safe.
 */
public final class MemoryPlan {
    private final AllocationTrace trace;
    private final PlanningAlgorithm algorithm;
    private final long[] offsets;
    private final long arenaBytes;
    private final long alignment;
    private volatile int[][] memoryNeighbours;

    /**
     * A plan from explicit offsets (as an algorithm computed them, or loaded).
     *
     * @throws IllegalArgumentException if the offsets are invalid (see {@link #validate()})
     */
    public MemoryPlan(AllocationTrace trace, PlanningAlgorithm algorithm, long[] offsets) {
        if (offsets.length != trace.size()) {
            throw new IllegalArgumentException(offsets.length + " offsets for " + trace.size() + " tensors");
        }
        this.trace = trace;
        this.algorithm = algorithm;
        this.offsets = offsets.clone();
        long end = 0;
        long align = 1;
        for (int i = 0; i < offsets.length; i++) {
            AllocationRecord r = trace.get(i);
            end = Math.max(end, offsets[i] + r.paddedBytes());
            align = Math.max(align, r.alignment());
        }
        this.arenaBytes = end;
        this.alignment = align;
        validate();
    }

    /**
     * Checks the plan: every offset is non-negative and aligned, and no two tensors that are live at a common time
     * share a byte. O(n²).
     *
     * @throws IllegalArgumentException naming the first offending tensor(s)
     */
    public void validate() {
        int n = offsets.length;
        for (int i = 0; i < n; i++) {
            AllocationRecord ri = trace.get(i);
            if (offsets[i] < 0 || (offsets[i] & (ri.alignment() - 1)) != 0) {
                throw new IllegalArgumentException("tensor " + ri.describe() + " at offset " + offsets[i]
                        + " is not aligned to " + ri.alignment());
            }
        }
        for (int i = 0; i < n; i++) {
            AllocationRecord ri = trace.get(i);
            for (int j = i + 1; j < n; j++) {
                AllocationRecord rj = trace.get(j);
                if (overlapsInMemory(i, j) && ri.overlapsInTime(rj)) {
                    throw new IllegalArgumentException("tensors " + ri.describe() + " at " + offsets[i] + " and "
                            + rj.describe() + " at " + offsets[j] + " are live together and overlap in memory");
                }
            }
        }
    }

    /** Whether tensors {@code i} and {@code j} share at least one byte of the arena. */
    public boolean overlapsInMemory(int i, int j) {
        long si = trace.get(i).paddedBytes();
        long sj = trace.get(j).paddedBytes();
        return si > 0 && sj > 0 && offsets[i] < offsets[j] + sj && offsets[j] < offsets[i] + si;
    }

    /**
     * For each tensor, the other tensors that share memory with it (and so, in a valid plan, are never live at the
     * same time), in ascending order: the replay checks that these are free before handing a slice out. Computed
     * once, O(n²).
     */
    int[][] memoryNeighbours() {
        int[][] m = memoryNeighbours;
        if (m == null) {
            int n = offsets.length;
            List<List<Integer>> lists = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                lists.add(new ArrayList<>());
            }
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    if (overlapsInMemory(i, j)) {
                        lists.get(i).add(j);
                        lists.get(j).add(i);
                    }
                }
            }
            m = new int[n][];
            for (int i = 0; i < n; i++) {
                m[i] = lists.get(i).stream().mapToInt(Integer::intValue).toArray();
            }
            memoryNeighbours = m;
        }
        return m;
    }

    /** The trace the plan was made for. */
    public AllocationTrace trace() {
        return trace;
    }

    /** The algorithm that made it ({@code null} for hand-made plans). */
    public PlanningAlgorithm algorithm() {
        return algorithm;
    }

    /** Number of tensors. */
    public int size() {
        return offsets.length;
    }

    /** Offset of tensor {@code i} in the arena, in bytes. */
    public long offset(int i) {
        return offsets[i];
    }

    /** All offsets (a copy), indexed like the trace. */
    public long[] offsets() {
        return offsets.clone();
    }

    /** Bytes the arena needs. */
    public long arenaBytes() {
        return arenaBytes;
    }

    /** The largest alignment any tensor asks for: what the arena's base address must be aligned to. */
    public long alignment() {
        return alignment;
    }

    /** The trace's lower bound (see {@link AllocationTrace#lowerBound()}). */
    public long lowerBound() {
        return trace.lowerBound();
    }

    /** {@code arenaBytes / lowerBound} (1.0 for an empty trace). */
    public double ratio() {
        long lb = lowerBound();
        return lb == 0 ? 1.0 : (double) arenaBytes / lb;
    }

    /** One line: algorithm, tensors, arena, lower bound, ratio. */
    public String summary() {
        return String.format(Locale.ROOT, "%-18s %6d tensors  arena %,14d B  lower bound %,14d B  ratio %.4f",
                algorithm == null ? "(given)" : algorithm.displayName(), size(), arenaBytes, lowerBound(), ratio());
    }

    @Override
    public String toString() {
        return "MemoryPlan[" + summary().replaceAll(" +", " ").trim()
                + (size() <= 8 ? ", offsets " + Arrays.toString(offsets) : "") + "]";
    }
}
