package org.tensorbuffer.report;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.llama.DecodeStats;

/**
 * The timed decodes of one strategy in a {@link Comparison}, with medians over the runs (the median is robust to
 * the odd run disturbed by GC or another process). Report writers (the text table, an HTML report) read these.
 *
 * @param strategy the allocation strategy
 * @param runs     the timed runs, in the order they ran (warm-up runs excluded)
 */
public record CompareResult(AllocationStrategy strategy, List<DecodeStats> runs) {

    /** Lower-case name, as on the command line. */
    public String name() {
        return strategy.name().toLowerCase(Locale.ROOT);
    }

    /** Median positions per second. */
    public double tokensPerSecond() {
        return median(DecodeStats::tokensPerSecond);
    }

    /** Median positions per second of the decoding thread's CPU time. */
    public double tokensPerCpuSecond() {
        return median(DecodeStats::tokensPerCpuSecond);
    }

    /** Slowest and fastest run's positions per second. */
    public double[] tokensPerSecondRange() {
        return new double[] {min(DecodeStats::tokensPerSecond), max(DecodeStats::tokensPerSecond)};
    }

    /** Median wall time of the first step in milliseconds. */
    public double firstTokenMillis() {
        return median(s -> s.firstTokenNanos() / 1e6);
    }

    /** Median device allocations per step after the first. */
    public double rawAllocsPerTokenSteady() {
        return median(DecodeStats::rawAllocsPerTokenSteady);
    }

    /** Median device allocations in all (weights, cache, reservations, activations). */
    public double rawAllocsTotal() {
        return median(s -> s.rawAllocsTotal());
    }

    /** Median BufferPool hit rate after the first step (NaN when the pool was not used). */
    public double poolHitRateSteady() {
        return median(DecodeStats::poolHitRateSteady);
    }

    /** Median TensorBuffer hit rate (NaN when it got no requests). */
    public double tensorBufferHitRate() {
        return median(DecodeStats::tensorBufferHitRate);
    }

    /** Median peak live bytes. */
    public double peakLiveBytes() {
        return median(s -> s.peakLiveBytes());
    }

    /** Median peak reserved bytes. */
    public double peakReservedBytes() {
        return median(s -> s.peakReservedBytes());
    }

    /** The sampled token ids of the first run. */
    public int[] ids() {
        return runs.getFirst().ids();
    }

    /** Whether every run produced the same ids. */
    public boolean idsConsistent() {
        return runs.stream().allMatch(r -> Arrays.equals(r.ids(), ids()));
    }

    private double median(ToDoubleFunction<DecodeStats> f) {
        double[] v = runs.stream().mapToDouble(f).toArray();
        if (Arrays.stream(v).anyMatch(Double::isNaN)) {
            return Double.NaN;
        }
        Arrays.sort(v);
        int n = v.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    private double min(ToDoubleFunction<DecodeStats> f) {
        return runs.stream().mapToDouble(f).min().orElse(Double.NaN);
    }

    private double max(ToDoubleFunction<DecodeStats> f) {
        return runs.stream().mapToDouble(f).max().orElse(Double.NaN);
    }
}
