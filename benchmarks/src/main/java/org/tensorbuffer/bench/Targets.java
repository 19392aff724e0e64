package org.tensorbuffer.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The speed targets, evaluated as ratios of results measured in the same JMH run (absolute numbers on a
 * shared machine are noisy; ratios of neighbours much less so). Nothing here asserts: the {@code bench} command prints
 * the lines and the HTML report shows them.
 *
 * <ul>
 *   <li>CPU pool take+close hit path at most 20 ns single-threaded, and at least 5x faster than {@code malloc} +
 *       {@code free} through FFM (ordinary downcalls; the line for critical downcalls, which skip the thread-state
 *       transition, is printed too);</li>
 *   <li>with 4 threads no worse than 2x the single-thread cost per operation;</li>
 *   <li>0 bytes of Java heap per operation on the pool and TensorBuffer hit paths ({@code -prof gc}; below
 *       {@link #HEAP_NOISE} counts as 0);</li>
 *   <li>one decode token: proactive at least as fast as reactive, and both faster than none.</li>
 * </ul>
 * Where the run has {@link CpuTimeProfiler} figures, a target is judged on CPU time per operation (the cost of the
 * operation, unaffected by waiting for a core on a busy machine or with more threads than cores) and the wall-clock
 * figure is shown beside it; otherwise on JMH's wall-clock score.
 */
public final class Targets {
    /** Hit path budget in ns. */
    public static final double HIT_NS = 20;
    /** Required speed-up over malloc + free. */
    public static final double MALLOC_RATIO = 5;
    /**
     * Heap bytes per op below which an operation allocates nothing: the smallest Java object is 16 bytes, so a
     * fraction of a byte per op is JMH's own bookkeeping amortised over the iteration, not the code measured.
     */
    public static final double HEAP_NOISE = 1;
    /** Allowed 4-thread / 1-thread cost ratio. */
    public static final double SCALING_RATIO = 2;

    /**
     * One target line.
     *
     * @param target   what is measured, e.g. {@code pool take+close 64 B, 1 thread}
     * @param value    the measured value, formatted with its unit
     * @param goal     the goal, e.g. {@code <= 20 ns}
     * @param met      whether it was met
     */
    public record Line(String target, String value, String goal, boolean met) {
        @Override
        public String toString() {
            return String.format("%-4s %-56s %-34s goal %s", met ? "MET" : "MISS", target, value, goal);
        }
    }

    private Targets() {
    }

    /** CPU ns/op where profiled, else the wall-clock score. */
    public static double cost(JmhResults.Entry e) {
        return Double.isNaN(e.cpuPerOp()) ? e.score() : e.cpuPerOp();
    }

    private static String both(JmhResults.Entry e) {
        return Double.isNaN(e.cpuPerOp()) ? "wall " + Format.ns(e.score())
                : "CPU " + Format.ns(e.cpuPerOp()) + " (wall " + Format.ns(e.score()) + ")";
    }

    private static String ratio(JmhResults.Entry num, JmhResults.Entry den) {
        String wall = String.format("%.2fx", num.score() / den.score());
        return Double.isNaN(num.cpuPerOp()) || Double.isNaN(den.cpuPerOp()) ? "wall " + wall
                : String.format("CPU %.2fx (wall %s)", cost(num) / cost(den), wall);
    }

    /** The target lines for the results present (a target whose inputs are missing is left out). */
    public static List<Line> evaluate(JmhResults r) {
        List<Line> out = new ArrayList<>();
        String cls = "AllocationBenchmark.";
        for (String size : List.of("64", "4096", "262144", "16777216")) {
            Map<String, String> p = Map.of("size", size);
            Optional<JmhResults.Entry> pool1 = r.find(cls + "bufferPool", 1, p);
            String sz = Format.bytes(Long.parseLong(size));
            pool1.ifPresent(e -> out.add(new Line("pool take+close " + sz + ", 1 thread", both(e),
                    "<= " + (int) HIT_NS + " ns", cost(e) <= HIT_NS)));
            for (String ref : List.of("mallocFree", "mallocFreeCritical")) {
                Optional<JmhResults.Entry> m = r.find(cls + ref, 1, p);
                if (pool1.isPresent() && m.isPresent()) {
                    double x = cost(m.get()) / cost(pool1.get());
                    out.add(new Line((ref.equals("mallocFree") ? "malloc+free" : "malloc+free (critical downcalls)")
                            + " / pool " + sz + ", 1 thread", ratio(m.get(), pool1.get()),
                            ">= " + (int) MALLOC_RATIO + "x", x >= MALLOC_RATIO));
                }
            }
            for (String m : List.of("bufferPool", "tensorBuffer")) {
                Optional<JmhResults.Entry> one = r.find(cls + m, 1, p);
                Optional<JmhResults.Entry> four = r.find(cls + m, 4, p);
                if (one.isPresent() && four.isPresent()) {
                    double x = cost(four.get()) / cost(one.get());
                    out.add(new Line(m + " 4 threads / 1 thread " + sz, ratio(four.get(), one.get()),
                            "<= " + (int) SCALING_RATIO + "x", x <= SCALING_RATIO));
                }
            }
            for (String m : List.of("bufferPool", "tensorBuffer")) {
                for (int t : List.of(1, 2, 4)) {
                    r.find(cls + m, t, p).filter(e -> !Double.isNaN(e.allocPerOp())).ifPresent(e ->
                            out.add(new Line(m + " heap " + sz + ", " + t + " thread" + (t > 1 ? "s" : ""),
                                    String.format("%.3f B/op", e.allocPerOp()), "0 B/op", e.allocPerOp() < HEAP_NOISE)));
                }
            }
        }
        String dec = "DecodeBenchmark.decodeToken";
        Optional<JmhResults.Entry> none = r.find(dec, 1, Map.of("strategy", "none"));
        Optional<JmhResults.Entry> reactive = r.find(dec, 1, Map.of("strategy", "reactive"));
        Optional<JmhResults.Entry> proactive = r.find(dec, 1, Map.of("strategy", "proactive"));
        if (proactive.isPresent() && reactive.isPresent()) {
            out.add(new Line("decode token: reactive / proactive time, 1 thread",
                    ratio(reactive.get(), proactive.get()), ">= 1x (proactive at least as fast)",
                    cost(reactive.get()) >= cost(proactive.get())));
        }
        for (Optional<JmhResults.Entry> s : List.of(reactive, proactive)) {
            if (s.isPresent() && none.isPresent()) {
                out.add(new Line("decode token: none / " + s.get().param("strategy") + " time, 1 thread",
                        ratio(none.get(), s.get()), "> 1x (faster than none)", cost(none.get()) > cost(s.get())));
            }
        }
        return out;
    }
}
