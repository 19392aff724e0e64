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
import org.tensorbuffer.report.CompareResult;
import org.tensorbuffer.report.Comparison;
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
        return build(c, info, sizeClasses, List.of(), jmh, jmhInfo);
    }

    /**
     * The report, with einsum timings.
     *
     * @param einsum per instance, the median time of one evaluation per strategy (and NumPy's, where measured)
     */
    public static HtmlReport build(Comparison c, RunInfo info, long[][] sizeClasses, List<EinsumTiming> einsum,
                                   JmhResults jmh, RunInfo jmhInfo) {
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
        b.chart(BarChart.titled("First step: device allocations and decoding-thread CPU ms (lower is better)")
                .categories(names)
                .series("device allocations in the first step", values(c, CompareResult::rawAllocsFirst))
                .series("first-step CPU ms", values(c, CompareResult::firstTokenCpuMillis))
                .series("first-step wall ms", values(c, CompareResult::firstTokenMillis))
                .axis("count / ms").format(v -> String.format(Locale.ROOT, "%.2f", v)),
                "What proactive buys: its reservations, recorded from one step on the meta device and made before "
                        + "the loop, serve the first step already, so it makes no device allocation there.");
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
                    Format.bytes(r.peakLiveBytes()), Format.bytes(r.peakReservedBytes()),
                    fmt(r.rawAllocsFirst(), "%.0f"), fmt(r.firstTokenMillis(), "%.2f"),
                    fmt(r.firstTokenCpuMillis(), "%.2f"), fmt(r.reservedOverLowerBound(), "%.3fx")));
        }
        b.table(List.of("strategy", "tokens/s", "vs " + base.name(), "tokens/CPU-s", "allocs/token",
                "pool hit rate", "TensorBuffer hit rate", "peak live", "peak reserved", "first-step allocs",
                "first-step wall ms", "first-step CPU ms", "reserved / lower bound"), rows);
        b.paragraph("Lower bound: the model's weights plus the least arena that holds one step's KV cache and "
                + "activations (the liveness planner's bound over a step recorded on the meta device), "
                + Format.bytes((long) base.lowerBoundBytes()) + ".");
        if (!einsum.isEmpty()) {
            b.section("Einsum: one evaluation per strategy");
            List<String> strategies = einsum.getFirst().millis().keySet().stream().toList();
            List<String> cats = einsum.stream().map(EinsumTiming::instance).toList();
            BarChart chart = BarChart.titled("Einsum: median time of one evaluation (ms, lower is better)")
                    .categories(cats).axis("ms").log(true).format(v -> String.format(Locale.ROOT, "%.1f", v));
            for (String s : strategies) {
                chart.series(s, einsum.stream().mapToDouble(e -> e.millis().getOrDefault(s, Double.NaN)).toArray());
            }
            boolean numpy = einsum.stream().anyMatch(e -> !Double.isNaN(e.numpyMillis()));
            if (numpy) {
                chart.series("NumPy (bmm)", einsum.stream().mapToDouble(EinsumTiming::numpyMillis).toArray());
            }
            b.chart(chart, "The opt_flops path of each instance, seeded float64 inputs (seed 42) made outside the "
                    + "timing; " + einsum.getFirst().repeat() + " timed evaluations after 1 warm-up, median. "
                    + (numpy ? "NumPy: scripts/einsum_reference.py --bench (np.matmul per step, as TensorBuffer's "
                    + "evaluator), same path and inputs." : "NumPy timings were not available (python3 with numpy "
                    + "and scripts/einsum_reference.py are needed)."));
            List<List<String>> erows = new ArrayList<>();
            for (EinsumTiming e : einsum) {
                List<String> row = new ArrayList<>();
                row.add(e.instance());
                for (String s : strategies) {
                    row.add(fmt(e.millis().getOrDefault(s, Double.NaN), "%.2f"));
                }
                row.add(fmt(e.numpyMillis(), "%.2f"));
                erows.add(row);
            }
            List<String> head = new ArrayList<>();
            head.add("instance");
            strategies.forEach(s -> head.add(s + " ms"));
            head.add("NumPy ms");
            b.table(head, erows);
        }
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

    /**
     * Median einsum evaluation times of one instance.
     *
     * @param instance    the instance's name
     * @param millis      strategy name to median milliseconds, in the order run
     * @param numpyMillis NumPy's median milliseconds, or NaN where not measured
     * @param repeat      timed evaluations per strategy
     */
    public record EinsumTiming(String instance, java.util.Map<String, Double> millis, double numpyMillis,
                               int repeat) {
    }

    /**
     * Times one evaluation of an einsum instance per strategy (as {@code tensorbuffer einsum} does: seeded inputs,
     * proactive reservations from one evaluation recorded on the meta device, 1 warm-up, median of {@code repeat}) and, where python3 with
     * NumPy and {@code scripts/einsum_reference.py} are found, NumPy's time on the same path and inputs.
     *
     * @throws IOException if the instance cannot be read
     */
    public static EinsumTiming einsum(java.nio.file.Path file, List<AllocationStrategy> strategies, String device,
                                      int repeat) throws IOException {
        org.tensorbuffer.einsum.Instance inst = org.tensorbuffer.einsum.Instance.read(file);
        org.tensorbuffer.einsum.Contraction plan = org.tensorbuffer.einsum.Contraction.plan(inst, "opt_flops");
        java.util.Map<String, Double> ms = new java.util.LinkedHashMap<>();
        for (AllocationStrategy s : strategies) {
            if (s == AllocationStrategy.PLANNED) {
                continue;
            }
            try (TensorContext ctx = TensorContext.create(Devices.get(device), s)) {
                List<org.tensorbuffer.Tensor> ops = org.tensorbuffer.einsum.Operands.seeded(inst, 42, ctx);
                if (s == AllocationStrategy.PROACTIVE) {
                    ctx.tensorBuffer().reserve(org.tensorbuffer.einsum.Evaluator.recordEvaluation(plan));
                }
                org.tensorbuffer.einsum.Evaluator ev = new org.tensorbuffer.einsum.Evaluator(plan);
                ev.evaluate(ops, false).close();
                double[] t = new double[repeat];
                for (int r = 0; r < repeat; r++) {
                    long t0 = System.nanoTime();
                    ev.evaluate(ops, false).close();
                    ctx.device().synchronize();
                    t[r] = (System.nanoTime() - t0) / 1e6;
                }
                ops.forEach(org.tensorbuffer.Tensor::close);
                java.util.Arrays.sort(t);
                ms.put(s.name().toLowerCase(Locale.ROOT), repeat % 2 == 1 ? t[repeat / 2]
                        : (t[repeat / 2 - 1] + t[repeat / 2]) / 2);
            }
        }
        return new EinsumTiming(inst.name(), ms, numpyMillis(file, repeat), repeat);
    }

    /** NumPy's median via scripts/einsum_reference.py --bench, or NaN if python3/numpy/the script is missing. */
    static double numpyMillis(java.nio.file.Path file, int repeat) {
        java.nio.file.Path script = null;
        String home = System.getProperty("tensorbuffer.home");
        for (java.nio.file.Path p = home != null ? java.nio.file.Path.of(home).toAbsolutePath()
                : java.nio.file.Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (java.nio.file.Files.isRegularFile(p.resolve("scripts/einsum_reference.py"))) {
                script = p.resolve("scripts/einsum_reference.py");
                break;
            }
        }
        if (script == null) {
            return Double.NaN;
        }
        try {
            Process p = new ProcessBuilder(java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/python3")) ? "/usr/bin/python3"
                    : "python3", script.toString(), file.toString(), "--path", "opt_flops",
                    "--bench", String.valueOf(repeat)).redirectErrorStream(false).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                return Double.NaN;
            }
            String text = new String(out, java.nio.charset.StandardCharsets.UTF_8).trim();
            String last = text.substring(text.lastIndexOf('\n') + 1);
            return com.google.gson.JsonParser.parseString(last).getAsJsonObject().get("median_ms").getAsDouble();
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
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
