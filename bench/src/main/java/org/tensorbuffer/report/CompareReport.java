package org.tensorbuffer.report;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.bench.Format;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;
import org.tensorbuffer.bench.SizeProfiles;
import org.tensorbuffer.cli.CompareResult;
import org.tensorbuffer.cli.Comparison;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.DecodeRequest;
import org.tensorbuffer.llama.Generator;
import org.tensorbuffer.llama.Sampler;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.llama.Transformer;

/**
 * The HTML report of {@code tensorbuffer compare --html}: charts of a {@link Comparison} per strategy (tokens/s,
 * device allocations per token, hit rates, peak live vs reserved bytes), allocation-size histograms (the decode's
 * BufferPool requests by size class, and the tn415 einsum intermediates), and the JMH results when a results file is
 * given. Not thread-safe.
 */
public final class CompareReport {
    private CompareReport() {
    }

    /**
     * The report.
     *
     * @param c          the comparison
     * @param info       machine, JDK, date, commit and the command that ran it
     * @param sizeClasses {@code BufferPool.sizeClassCounts()} of one reactive decode (sizes, requests, hits), or
     *                   {@code null}
     * @param jmh        JMH results to include, or {@code null}
     * @param jmhInfo    the facts of the JMH run, or {@code null}
     */
    public static HtmlReport build(Comparison c, RunInfo info, long[][] sizeClasses, JmhResults jmh,
                                   RunInfo jmhInfo) {
        HtmlReport.Builder b = HtmlReport.builder(info).title("TensorBuffer: allocation strategies compared");
        b.alsoRun(jmhInfo);
        List<String> names = c.results().stream().map(CompareResult::name).toList();
        String model = c.request().model().getFileName().toString();
        b.section("Decode: " + model + " per strategy");
        b.paragraph("The same decode (" + model + ", " + c.config() + ", " + c.results().getFirst().runs().getFirst()
                .tokens() + " positions, " + (c.request().temperature() == 0 ? "greedy" : "temperature "
                + c.request().temperature()) + ") under each strategy, " + c.results().getFirst().runs().size()
                + " timed runs each after " + c.warmup() + " warm-up rounds, strategies interleaved; medians. "
                + (c.idsIdentical() ? "Every strategy produced the same tokens." : "WARNING: the strategies "
                + "produced different tokens."));
        b.chart(BarChart.titled("Tokens per second (higher is better)").categories(names)
                .series("tokens/s (wall clock)", values(c, CompareResult::tokensPerSecond))
                .series("tokens per CPU second", values(c, CompareResult::tokensPerCpuSecond))
                .axis("tokens/s").format(v -> String.format(Locale.ROOT, "%.0f", v)),
                "Wall clock includes time the decoding thread waited for a core; CPU time is the decoding thread's "
                        + "own.");
        b.chart(BarChart.titled("Device allocations per token after the first (lower is better)").categories(names)
                .series("device allocations / token", values(c, CompareResult::rawAllocsPerTokenSteady))
                .axis("allocations/token").format(v -> String.format(Locale.ROOT, "%.2f", v)),
                "Allocations the device (malloc for the CPU) saw per decode step once every buffer had been seen "
                        + "once.");
        b.chart(BarChart.titled("Hit rates after the first token (%)").categories(names)
                .series("BufferPool hit rate", percent(values(c, CompareResult::poolHitRateSteady)))
                .series("TensorBuffer hit rate", percent(values(c, CompareResult::tensorBufferHitRate)))
                .axis("%").format(v -> String.format(Locale.ROOT, "%.1f", v)),
                "A missing bar: the strategy does not use that allocator.");
        b.chart(BarChart.titled("Peak live vs reserved bytes (MiB)").categories(names)
                .series("peak live", mib(values(c, CompareResult::peakLiveBytes)))
                .series("peak reserved", mib(values(c, CompareResult::peakReservedBytes)))
                .axis("MiB").format(v -> String.format(Locale.ROOT, "%.3f", v)),
                "Live: bytes in use by tensors (weights included); reserved: bytes held from the device (live + "
                        + "cached). Their difference is what a cache costs in memory.");
        List<List<String>> rows = new ArrayList<>();
        CompareResult base = c.results().getFirst();
        for (CompareResult r : c.results()) {
            rows.add(List.of(r.name(), String.format(Locale.ROOT, "%.1f", r.tokensPerSecond()),
                    String.format(Locale.ROOT, "%.2fx", r.tokensPerSecond() / base.tokensPerSecond()),
                    fmt(r.tokensPerCpuSecond(), "%.1f"), fmt(r.rawAllocsPerTokenSteady(), "%.2f"),
                    fmt(r.poolHitRateSteady() * 100, "%.1f %%"), fmt(r.tensorBufferHitRate() * 100, "%.1f %%"),
                    Format.bytes(r.peakLiveBytes()), Format.bytes(r.peakReservedBytes())));
        }
        b.table(List.of("strategy", "tokens/s", "vs " + base.name(), "tokens/CPU-s", "allocs/token",
                "pool hit rate", "TensorBuffer hit rate", "peak live", "peak reserved"), rows);
        b.section("Allocation sizes");
        if (sizeClasses != null && sizeClasses[0].length > 0) {
            List<String> cats = new ArrayList<>();
            for (long s : sizeClasses[0]) {
                cats.add(Format.bytes(s));
            }
            b.chart(BarChart.titled("Decode (" + model + "): BufferPool requests by size class").categories(cats)
                    .series("requests", toDouble(sizeClasses[1])).series("hits", toDouble(sizeClasses[2]))
                    .axis("requests").log(true).format(v -> String.format(Locale.ROOT, "%.0f", v)),
                    "One decode under the reactive strategy, weights and KV cache included (they are requested "
                            + "once; activations every step).");
        }
        List<String> cats = new ArrayList<>();
        long[] tnBytes = SizeProfiles.tn415Bytes();
        int[] tnCounts = SizeProfiles.tn415Counts();
        double[] counts = new double[tnBytes.length];
        for (int i = 0; i < counts.length; i++) {
            cats.add(Format.bytes(tnBytes[i]).replace(" ", ""));
            counts[i] = tnCounts[i];
        }
        b.chart(BarChart.titled("Einsum tensornetwork_permutation_light_415: intermediate tensor sizes")
                .categories(cats).series("intermediates", counts).axis("count").log(true)
                .format(v -> String.format(Locale.ROOT, "%.0f", v)),
                "The 414 intermediates of the opt_size contraction path (float64, every dimension 2): 74% are at "
                        + "most 64 B, the largest is 128 MiB (design note 001).");
        if (jmh != null && !jmh.results().isEmpty()) {
            b.jmh(jmh);
        }
        return b.build();
    }

    /**
     * The BufferPool's requests and hits by size class over one reactive decode of {@code r}'s model from BOS
     * ({@code BufferPool.sizeClassCounts()}).
     *
     * @throws IOException if the model cannot be read
     */
    public static long[][] decodeSizeClasses(DecodeRequest r) throws IOException {
        try (Checkpoint ck = Checkpoint.open(r.model());
             TensorContext ctx = TensorContext.create(Devices.get(r.device()), AllocationStrategy.REACTIVE);
             Transformer model = Transformer.load(ck, ctx, "histogram")) {
            int seqLen = ck.config().seqLen();
            int steps = r.steps() <= 0 ? seqLen : Math.min(r.steps(), seqLen);
            Generator.generate(model, new Sampler(ck.config().vocabSize(), r.temperature(), r.topp(), r.seed()),
                    new int[] {Tokenizer.BOS}, steps, null);
            return ctx.pool().sizeClassCounts();
        }
    }

    private static double[] values(Comparison c, java.util.function.ToDoubleFunction<CompareResult> f) {
        return c.results().stream().mapToDouble(f).toArray();
    }

    private static double[] percent(double[] v) {
        return java.util.Arrays.stream(v).map(x -> x * 100).toArray();
    }

    private static double[] mib(double[] v) {
        return java.util.Arrays.stream(v).map(x -> x / (1 << 20)).toArray();
    }

    private static double[] toDouble(long[] v) {
        return java.util.Arrays.stream(v).asDoubleStream().toArray();
    }

    private static String fmt(double v, String f) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v);
    }
}
