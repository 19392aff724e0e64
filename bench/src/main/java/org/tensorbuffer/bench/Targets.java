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
 *       {@code free} through FFM;</li>
 *   <li>with 4 threads no worse than 2x the single-thread cost per operation. On a machine with fewer than 4 cores the
 *       JMH average time of 4 threads includes time spent descheduled, so the line also gives the CPU cost per
 *       operation, {@code avgt x min(threads, cores) / threads};</li>
 *   <li>0 bytes of Java heap per operation on the pool and TensorBuffer hit paths ({@code -prof gc}).</li>
 * </ul>
 */
public final class Targets {
    /** Hit path budget in ns. */
    public static final double HIT_NS = 20;
    /** Required speed-up over malloc + free. */
    public static final double MALLOC_RATIO = 5;
    /** Allowed 4-thread / 1-thread cost ratio. */
    public static final double SCALING_RATIO = 2;

    /**
     * One target line.
     *
     * @param target   what is measured, e.g. {@code pool hit 64 B, 1 thread}
     * @param value    the measured value, formatted with its unit
     * @param goal     the goal, e.g. {@code <= 20 ns}
     * @param met      whether it was met
     */
    public record Line(String target, String value, String goal, boolean met) {
        @Override
        public String toString() {
            return String.format("%-4s %-52s %-22s goal %s", met ? "MET" : "MISS", target, value, goal);
        }
    }

    private Targets() {
    }

    /** The target lines for the results present (a target whose inputs are missing is left out). */
    public static List<Line> evaluate(JmhResults r, int cores) {
        List<Line> out = new ArrayList<>();
        String cls = "AllocationBenchmark.";
        for (String size : List.of("64", "4096", "262144", "16777216")) {
            Map<String, String> p = Map.of("size", size);
            Optional<JmhResults.Entry> pool1 = r.find(cls + "bufferPool", 1, p);
            Optional<JmhResults.Entry> malloc1 = r.find(cls + "mallocFree", 1, p);
            Optional<JmhResults.Entry> tb1 = r.find(cls + "tensorBuffer", 1, p);
            String sz = Format.bytes(Long.parseLong(size));
            pool1.ifPresent(e -> out.add(new Line("pool take+close " + sz + ", 1 thread",
                    Format.ns(e.score()), "<= " + (int) HIT_NS + " ns", e.score() <= HIT_NS)));
            if (pool1.isPresent() && malloc1.isPresent()) {
                double ratio = malloc1.get().score() / pool1.get().score();
                out.add(new Line("malloc+free / pool " + sz + ", 1 thread", String.format("%.1fx", ratio),
                        ">= " + (int) MALLOC_RATIO + "x", ratio >= MALLOC_RATIO));
            }
            for (String m : List.of("bufferPool", "tensorBuffer")) {
                Optional<JmhResults.Entry> one = m.equals("bufferPool") ? pool1 : tb1;
                Optional<JmhResults.Entry> four = r.find(cls + m, 4, p);
                if (one.isPresent() && four.isPresent()) {
                    double wall = four.get().score() / one.get().score();
                    double cpu = wall * Math.min(4, cores) / 4.0;
                    out.add(new Line(m + " 4 threads / 1 thread " + sz,
                            String.format("%.2fx (CPU %.2fx)", wall, cpu), "<= " + (int) SCALING_RATIO + "x",
                            Math.min(wall, cpu) <= SCALING_RATIO));
                }
            }
            for (String m : List.of("bufferPool", "tensorBuffer")) {
                for (int t : List.of(1, 2, 4)) {
                    r.find(cls + m, t, p).filter(e -> !Double.isNaN(e.allocPerOp())).ifPresent(e ->
                            out.add(new Line(m + " heap " + sz + ", " + t + " thread" + (t > 1 ? "s" : ""),
                                    String.format("%.3f B/op", e.allocPerOp()), "0 B/op", e.allocPerOp() < 0.01)));
                }
            }
        }
        return out;
    }
}
