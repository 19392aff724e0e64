package org.tensorbuffer.plan;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Offset assignment for an {@link AllocationTrace}: gives every tensor an offset in one arena so that tensors whose
 * lifetimes overlap never overlap in memory.
 *
 * <p>All three algorithms share the placement step of Pisarchyk &amp; Lee, "Efficient Memory Management for Deep
 * Neural Net Inference" (2020, arXiv:2001.03288), section 4 ("offset calculation"): take the tensors one by one in
 * some order; for the current tensor look at the already placed tensors whose lifetimes overlap it, sorted by offset,
 * and put it into the smallest gap between them that fits (aligned); if none fits, put it after the highest of them.
 * This is also how TensorFlow Lite's arena planner ({@code SimpleMemoryArena::Allocate}) places tensors. They differ
 * only in the order:
 * <ul>
 *   <li>{@link #GREEDY_BY_SIZE}: by padded size, largest first (ties: earlier first use first) — the paper's
 *       "Greedy by Size" and TFLite's default order.</li>
 *   <li>{@link #GREEDY_BY_BREADTH}: the paper's "Greedy by Breadth": the allocation steps ordered by breadth (the
 *       total bytes live at that step), widest first; within a step its live tensors largest first.</li>
 *   <li>{@link #IN_ORDER_BEST_FIT}: in allocation order, as an online allocator would see them (a baseline that
 *       shows what knowing the future buys).</li>
 * </ul>
 * Cost: O(n²) time for n tensors (each placement scans the placed tensors), O(n) memory.
 */
public enum PlanningAlgorithm {
    /** Largest tensor first (Pisarchyk &amp; Lee 2020, "Greedy by Size for Offset Calculation"; TFLite). */
    GREEDY_BY_SIZE,
    /** Widest step first, then largest tensor of the step first (Pisarchyk &amp; Lee 2020, "Greedy by Breadth"). */
    GREEDY_BY_BREADTH,
    /** Allocation order, best fit. */
    IN_ORDER_BEST_FIT;

    /** Command-line / report name, e.g. {@code greedy-by-size}. */
    public String displayName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Parses {@code greedy-by-size}, {@code greedy-by-breadth} or {@code in-order-best-fit} (case-insensitive,
     * {@code _} or {@code -}).
     *
     * @throws IllegalArgumentException naming the value and the valid names
     */
    public static PlanningAlgorithm parse(String name) {
        for (PlanningAlgorithm a : values()) {
            if (a.name().equalsIgnoreCase(name.replace('-', '_'))) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown planning algorithm '" + name + "' (expected greedy-by-size, "
                + "greedy-by-breadth or in-order-best-fit)");
    }

    /** Plans {@code trace} with this algorithm. */
    public MemoryPlan plan(AllocationTrace trace) {
        int[] order = switch (this) {
            case GREEDY_BY_SIZE -> bySize(trace);
            case GREEDY_BY_BREADTH -> byBreadth(trace);
            case IN_ORDER_BEST_FIT -> inOrder(trace);
        };
        return new MemoryPlan(trace, this, place(trace, order));
    }

    /** The plan with the smallest arena over all algorithms (ties: the first in declaration order). */
    public static MemoryPlan best(AllocationTrace trace) {
        MemoryPlan best = null;
        for (PlanningAlgorithm a : values()) {
            MemoryPlan p = a.plan(trace);
            if (best == null || p.arenaBytes() < best.arenaBytes()) {
                best = p;
            }
        }
        return best;
    }

    private static int[] inOrder(AllocationTrace trace) {
        int[] order = new int[trace.size()];
        Arrays.setAll(order, i -> i);
        return order;
    }

    private static int[] bySize(AllocationTrace trace) {
        List<AllocationRecord> r = trace.records();
        return sortIndices(trace.size(), Comparator.<Integer>comparingLong(i -> -r.get(i).paddedBytes())
                .thenComparingLong(i -> r.get(i).firstUse()));
    }

    private static int[] byBreadth(AllocationTrace trace) {
        List<AllocationRecord> r = trace.records();
        int n = trace.size();
        // Steps = allocation times; the live set at step k = tensors j <= k with last(j) >= first(k).
        long[] breadth = new long[n];
        for (int k = 0; k < n; k++) {
            long t = r.get(k).firstUse();
            long sum = 0;
            for (int j = 0; j <= k; j++) {       // first uses increase with the index
                if (r.get(j).lastUse() >= t) {
                    sum += r.get(j).paddedBytes();
                }
            }
            breadth[k] = sum;
        }
        int[] steps = sortIndices(n, Comparator.<Integer>comparingLong(k -> -breadth[k]).thenComparingInt(k -> k));
        int[] bySize = bySize(trace);           // within a step: largest first
        int[] order = new int[n];
        boolean[] taken = new boolean[n];
        int m = 0;
        for (int k : steps) {
            long t = r.get(k).firstUse();
            for (int j : bySize) {
                if (!taken[j] && j <= k && r.get(j).lastUse() >= t) {
                    taken[j] = true;
                    order[m++] = j;
                }
            }
            if (m == n) {
                break;
            }
        }
        return order;
    }

    private static int[] sortIndices(int n, Comparator<Integer> cmp) {
        Integer[] boxed = new Integer[n];
        Arrays.setAll(boxed, i -> i);
        Arrays.sort(boxed, cmp);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = boxed[i];
        }
        return out;
    }

    /** The shared placement step: best-fitting gap among placed, lifetime-overlapping tensors, else on top. */
    static long[] place(AllocationTrace trace, int[] order) {
        int n = trace.size();
        long[] first = new long[n];
        long[] last = new long[n];
        long[] size = new long[n];
        for (int i = 0; i < n; i++) {
            AllocationRecord r = trace.get(i);
            first[i] = r.firstUse();
            last[i] = r.lastUse();
            size[i] = r.paddedBytes();
        }
        long[] offset = new long[n];
        // placed tensors of non-zero size, kept sorted by offset (insertion), so no per-tensor sort is needed
        int[] byOffset = new int[n];
        int placed = 0;
        for (int i : order) {
            long s = size[i];
            long align = trace.get(i).alignment();
            long prevEnd = 0;
            long best = -1;
            long bestGap = Long.MAX_VALUE;
            for (int q = 0; q < placed; q++) {
                int j = byOffset[q];
                if (first[j] > last[i] || first[i] > last[j]) {
                    continue;                       // not live together: may share memory
                }
                long start = alignUp(prevEnd, align);
                long gap = offset[j] - start;
                if (gap >= s && gap < bestGap) {
                    bestGap = gap;
                    best = start;
                }
                prevEnd = Math.max(prevEnd, offset[j] + size[j]);
            }
            long o = best >= 0 ? best : alignUp(prevEnd, align);
            offset[i] = o;
            if (s > 0) {
                int pos = placed;
                while (pos > 0 && offset[byOffset[pos - 1]] > o) {
                    byOffset[pos] = byOffset[pos - 1];
                    pos--;
                }
                byOffset[pos] = i;
                placed++;
            }
        }
        return offset;
    }

    static long alignUp(long v, long align) {
        return (v + align - 1) & -align;
    }
}
