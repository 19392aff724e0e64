package org.tensorbuffer.einsum;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorbuffer.observe.ByteUnits;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.einsum.Contraction.Allocation;

/**
 * The allocation profile of one evaluation of a {@link Contraction}: how many tensors it allocates, how big they
 * are, and how much memory must be live at once.
 *
 * <p>Counted are the evaluation's own allocations: the step results (intermediates) and the temporaries (permuted,
 * diagonal or summed copies of an operand); the inputs are not (they exist before the evaluation). Sizes are exact
 * bytes ({@code elements * 8} for float64). The histogram groups sizes by powers of two: bucket {@code 2^i} holds the
 * sizes in {@code (2^(i-1), 2^i]}. The <em>liveness lower bound</em> is the maximum over steps of the bytes of the
 * tensors live at that step (the step's operands, temporaries and result, and every earlier result not yet consumed):
 * no allocator can serve the evaluation with less. {@link #peakLiveBytes()} is what an allocator actually held at its
 * peak (block bytes, with size-class rounding), measured by the {@link Evaluator}, or -1 when not measured.
 *
 * <p>Immutable and thread-safe.
 */
public final class AllocationProfile {
    private final long[] bytes;
    private final long[] intermediateBytes;
    private final long livenessLowerBound;
    private final long peakLiveBytes;
    private final Map<Shape, Integer> maxLivePerShape;

    private AllocationProfile(long[] bytes, long[] intermediateBytes, long livenessLowerBound, long peakLiveBytes,
                              Map<Shape, Integer> maxLivePerShape) {
        this.bytes = bytes;
        this.intermediateBytes = intermediateBytes;
        this.livenessLowerBound = livenessLowerBound;
        this.peakLiveBytes = peakLiveBytes;
        this.maxLivePerShape = maxLivePerShape;
    }

    /** The profile of {@code plan}'s schedule, with a measured peak (or -1). */
    public static AllocationProfile of(Contraction plan, long peakLiveBytes) {
        List<Allocation> s = plan.schedule();
        long[] all = new long[s.size()];
        long[] inter = new long[(int) s.stream().filter(Allocation::intermediate).count()];
        int steps = plan.steps().size() + 1;
        long[] add = new long[steps + 1];
        long[] remove = new long[steps + 1];
        int ii = 0;
        for (int i = 0; i < all.length; i++) {
            Allocation a = s.get(i);
            all[i] = a.bytes();
            if (a.intermediate()) {
                inter[ii++] = a.bytes();
            }
            add[a.step()] += a.bytes();
            int last = a.freedAfter() < 0 ? steps - 1 : a.freedAfter();
            remove[last + 1] += a.bytes();
        }
        long live = 0;
        long bound = 0;
        for (int st = 0; st < steps; st++) {
            live += add[st] - remove[st];
            bound = Math.max(bound, live);
        }
        // Per shape: the most tensors of that shape live at one step (what a proactive TensorBuffer reserves).
        Map<Shape, long[]> perShape = new LinkedHashMap<>();
        for (Allocation a : s) {
            perShape.computeIfAbsent(a.shape(), k -> new long[steps + 1]);
            long[] d = perShape.get(a.shape());
            d[a.step()]++;
            d[(a.freedAfter() < 0 ? steps - 1 : a.freedAfter()) + 1]--;
        }
        Map<Shape, Integer> maxLive = new LinkedHashMap<>();
        perShape.forEach((shape, d) -> {
            long c = 0;
            long m = 0;
            for (int st = 0; st < steps; st++) {
                c += d[st];
                m = Math.max(m, c);
            }
            maxLive.put(shape, (int) m);
        });
        return new AllocationProfile(all, inter, bound, peakLiveBytes, Map.copyOf(maxLive));
    }

    /** Number of allocations (intermediates plus temporaries). */
    public int allocations() {
        return bytes.length;
    }

    /** Number of step results. */
    public int intermediates() {
        return intermediateBytes.length;
    }

    /** Sizes in bytes of every allocation, in order (a copy). */
    public long[] allocationBytes() {
        return bytes.clone();
    }

    /** Sizes in bytes of the intermediates, in order (a copy). */
    public long[] intermediateBytes() {
        return intermediateBytes.clone();
    }

    /** Sum of the sizes of all allocations. */
    public long totalBytes() {
        return Arrays.stream(bytes).sum();
    }

    /** Largest allocation in bytes (0 if none). */
    public long maxBytes() {
        return Arrays.stream(bytes).max().orElse(0);
    }

    /** Median allocation size in bytes (the mean of the two middle sizes for an even count; 0 if none). */
    public double medianBytes() {
        return median(bytes);
    }

    /** Median intermediate size in bytes. */
    public double medianIntermediateBytes() {
        return median(intermediateBytes);
    }

    private static double median(long[] v) {
        if (v.length == 0) {
            return 0;
        }
        long[] s = v.clone();
        Arrays.sort(s);
        int h = s.length / 2;
        return s.length % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2.0;
    }

    /** The liveness lower bound in bytes (see the class comment). */
    public long livenessLowerBound() {
        return livenessLowerBound;
    }

    /** The measured peak of live block bytes, or -1 when not measured. */
    public long peakLiveBytes() {
        return peakLiveBytes;
    }

    /** For each shape, the most tensors of it live at one step: what a proactive TensorBuffer should reserve. */
    public Map<Shape, Integer> maxLivePerShape() {
        return maxLivePerShape;
    }

    /** Histogram of all allocations: bucket upper bound in bytes (a power of two) to count, ascending. */
    public Map<Long, Integer> histogram() {
        return histogram(bytes);
    }

    /** Histogram of the intermediates only. */
    public Map<Long, Integer> intermediateHistogram() {
        return histogram(intermediateBytes);
    }

    private static Map<Long, Integer> histogram(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        Map<Long, Integer> h = new LinkedHashMap<>();
        for (long b : s) {
            long bucket = b <= 1 ? b : Long.highestOneBit(b - 1) << 1;
            h.merge(bucket, 1, Integer::sum);
        }
        return h;
    }

    /** A text table of both histograms, with counts and cumulative shares. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "allocations %d (intermediates %d, temporaries %d), total %s, "
                        + "median %s, max %s%n", allocations(), intermediates(), allocations() - intermediates(),
                human(totalBytes()), human((long) medianBytes()), human(maxBytes())));
        sb.append(String.format(Locale.ROOT, "liveness lower bound %s, peak live %s%n", human(livenessLowerBound),
                peakLiveBytes < 0 ? "n/a" : human(peakLiveBytes)));
        sb.append(String.format(Locale.ROOT, "%12s %14s %8s %7s %10s %7s%n", "size <=", "elements(f64)",
                "all", "cum", "interm.", "cum"));
        Map<Long, Integer> all = histogram();
        Map<Long, Integer> inter = intermediateHistogram();
        int ca = 0;
        int ci = 0;
        for (Map.Entry<Long, Integer> e : all.entrySet()) {
            int i = inter.getOrDefault(e.getKey(), 0);
            ca += e.getValue();
            ci += i;
            sb.append(String.format(Locale.ROOT, "%12s %14d %8d %6.1f%% %10d %6.1f%%%n", human(e.getKey()),
                    e.getKey() / 8, e.getValue(), 100.0 * ca / allocations(), i,
                    intermediates() == 0 ? 0 : 100.0 * ci / intermediates()));
        }
        return sb.toString();
    }

    /** Bytes as {@code 512 B}, {@code 4 KiB}, {@code 1.5 MiB}. */
    static String human(long b) {
        return ByteUnits.format(b);
    }
}
