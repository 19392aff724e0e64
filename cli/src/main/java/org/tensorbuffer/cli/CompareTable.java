package org.tensorbuffer.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorbuffer.report.Comparison;
import org.tensorbuffer.report.CompareResult;

/**
 * Renders a {@link Comparison} as a Markdown table (aligned, so it reads in a terminal too): per strategy the median
 * tokens/s, first-step time, device allocations per token after the first, hit rates and peak bytes, with the ratio
 * of each strategy to the baseline (the first strategy, {@code none} by default).
 */
final class CompareTable {
    private CompareTable() {
    }

    static String render(Comparison c) {
        CompareResult base = c.baseline();
        String b = base.name();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"strategy", "tok/s", "vs " + b, "tok/CPU-s", "vs " + b, "reserve ms", "first token ms",
            "1st CPU ms", "1st allocs", "allocs/token", "vs " + b,
            "pool hit", "TensorBuffer hit", "peak live KiB", "peak reserved KiB", "vs " + b, "vs bound"});
        for (CompareResult r : c.results()) {
            rows.add(new String[] {
                r.name(),
                fmt("%.0f", r.tokensPerSecond()),
                ratio(r.tokensPerSecond(), base.tokensPerSecond()),
                fmt("%.0f", r.tokensPerCpuSecond()),
                ratio(r.tokensPerCpuSecond(), base.tokensPerCpuSecond()),
                fmt("%.2f", r.reserveMillis()),
                fmt("%.2f", r.firstTokenMillis()),
                fmt("%.2f", r.firstTokenCpuMillis()),
                fmt("%.0f", r.rawAllocsFirst()),
                fmt("%.2f", r.rawAllocsPerTokenSteady()),
                ratio(r.rawAllocsPerTokenSteady(), base.rawAllocsPerTokenSteady()),
                pct(r.poolHitRateSteady()),
                pct(r.tensorBufferHitRate()),
                fmt("%.1f", r.peakLiveBytes() / 1024),
                fmt("%.1f", r.peakReservedBytes() / 1024),
                ratio(r.peakReservedBytes(), base.peakReservedBytes()),
                fmt("%.3fx", r.reservedOverLowerBound())});
        }
        int[] w = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < rows.size(); r++) {
            line(sb, rows.get(r), w);
            if (r == 0) {
                String[] sep = new String[w.length];
                for (int i = 0; i < w.length; i++) {
                    sep[i] = i == 0 ? "-".repeat(w[i]) : "-".repeat(Math.max(1, w[i] - 1)) + ":";
                }
                line(sb, sep, w);
            }
        }
        return sb.toString();
    }

    /** The lines under the table: what was run and how to read it. */
    static String legend(Comparison c) {
        var q = c.request();
        return String.format(Locale.ROOT, "%s (%s), %d positions from BOS, %s, device %s; median of %d runs per "
                        + "strategy after %d warm-up round(s), strategies interleaved; %s.%n"
                        + "tok/s: positions per second of wall time over the whole decode; tok/CPU-s: per second of "
                        + "the decoding thread's CPU time (steadier than wall time when other processes share the "
                        + "cores); reserve ms: wall time before the first step spent on reservations (proactive: "
                        + "recording one step on the meta device, reserving its plan, and capturing the step on a "
                        + "device that replays captured steps (Vulkan: every position is then one submit of the "
                        + "recorded commands), else preparing it; 0 for the others); first "
                        + "token ms / 1st CPU ms: wall time and decoding-thread CPU time of the first step alone "
                        + "(after the reservations and the KV cache allocation, up to its logits synchronized); 1st "
                        + "allocs: device allocations during the first step; allocs/token: device allocations per "
                        + "step after the first; pool hit: BufferPool hit rate after the first step; TensorBuffer "
                        + "hit: over the whole decode; peak bytes include the weights (sum of each allocator's "
                        + "high-water mark); vs bound: peak reserved over the liveness lower bound (weights + the "
                        + "least arena for one step's KV cache and activations, %s); '-': not used.%n"
                        + "Token ids identical across all runs and strategies: %s.%n",
                q.model().getFileName(), c.config(), c.results().getFirst().runs().getFirst().tokens(),
                q.temperature() == 0 ? "greedy" : "temperature " + q.temperature() + ", top-p " + q.topp()
                        + ", seed " + q.seed(),
                q.device(), c.results().getFirst().runs().size(), c.warmup(), c.machine(),
                org.tensorbuffer.bench.Format.bytes((long) c.results().getFirst().lowerBoundBytes()),
                c.idsIdentical() ? "yes" : "NO");
    }

    private static void line(StringBuilder sb, String[] cells, int[] w) {
        sb.append('|');
        for (int i = 0; i < cells.length; i++) {
            sb.append(' ');
            String cell = cells[i];
            if (i == 0) {
                sb.append(cell).append(" ".repeat(w[i] - cell.length()));
            } else {
                sb.append(" ".repeat(w[i] - cell.length())).append(cell);
            }
            sb.append(" |");
        }
        sb.append('\n');
    }

    private static String fmt(String f, double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v);
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    private static String ratio(double v, double base) {
        if (Double.isNaN(v) || Double.isNaN(base)) {
            return "-";
        }
        if (base == 0) {
            return v == 0 ? "1.00x" : "-";
        }
        return String.format(Locale.ROOT, "%.2fx", v / base);
    }
}
