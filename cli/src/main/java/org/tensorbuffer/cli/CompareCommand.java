package org.tensorbuffer.cli;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.device.DeviceUnavailableException;
import org.tensorbuffer.llama.DecodeRequest;
import org.tensorbuffer.llama.DecodeRun;
import org.tensorbuffer.llama.DecodeStats;
import org.tensorbuffer.llama.PrefillMode;
import org.tensorbuffer.bench.JmhResults;
import org.tensorbuffer.bench.RunInfo;
import org.tensorbuffer.report.CompareReport;
import org.tensorbuffer.memory.PoolOutOfMemoryException;
import org.tensorbuffer.observe.MemoryRecording;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import org.tensorbuffer.report.Comparison;
import org.tensorbuffer.report.CompareResult;

/**
 * {@code tensorbuffer compare}: the project's main job. Decodes the bundled llama2.c model under each allocation
 * strategy, several times, and prints tokens/s, allocations per token, hit rates and peak bytes with the ratio of
 * each strategy to {@code none}.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Decode a llama2.c model under each allocation strategy (none, reactive, proactive), several "
                + "times each, and print a table of tokens/s, device allocations per token, hit rates and peak bytes "
                + "with the ratio of each strategy to the first (none).",
            "Runs on a fresh clone with no arguments (the bundled models/stories260K.bin, greedy). Exit status: 0, "
                + "1 on an error, 3 if the strategies' token ids differ."})
final class CompareCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", converter = InputFile.class,
            description = "llama2.c checkpoint (default: the bundled models/" + ModelFiles.DEFAULT_MODEL + ").")
    Path model;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "256",
            description = "Positions per decode from BOS, as run.c's -n; 0 means seq_len (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--runs", paramLabel = "N", defaultValue = "5",
            description = "Timed decodes per strategy; the table shows medians (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", paramLabel = "N|steady", defaultValue = "steady",
            description = "Untimed rounds over all strategies first, for the JIT: a number, or 'steady' (the "
                    + "default): at least " + Comparison.STEADY_MIN_WARMUP + " rounds, then more until "
                    + Comparison.STEADY_PATIENCE + " rounds in a row in which no strategy's tokens/s rose by more "
                    + "than 3%% over its best earlier round and the JIT compiled for under 5%% of the round, at "
                    + "most " + Comparison.STEADY_MAX_WARMUP + " (the JIT "
                    + "takes several decodes of a small model to reach steady-state code, longer when the process "
                    + "is pinned to one CPU with its compiler threads). The JSON's warmup_rounds is the number run.")
    String warmupOption;
    /** Fixed warm-up rounds, or -1 for steady. */
    int warmup;

    @Option(names = "--strategies", paramLabel = "LIST", split = ",", defaultValue = "none,reactive,proactive",
            description = "Strategies in order, comma-separated; the first is the baseline of the ratios "
                    + "(default: ${DEFAULT-VALUE}).")
    List<String> strategies;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--topp", paramLabel = "P", defaultValue = "0.9",
            description = "Top-p threshold when sampling (default: ${DEFAULT-VALUE}).")
    float topp;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
            description = "Sampling seed, the same for every run (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    DeviceOption deviceOption;

    /** {@code --json}: per strategy the medians and every run's {@code decode --json} object, instead of the table. */
    @Mixin
    JsonOption jsonOption;

    @Option(names = "--quiet", description = "No progress lines on stderr.")
    boolean quiet;

    @Option(names = "--html", paramLabel = "FILE", converter = OutputFile.class,
            description = "Also write a self-contained HTML report with charts (tokens/s, allocations per token, hit "
                    + "rates, peak live vs reserved bytes per strategy, allocation-size histograms, and the JMH "
                    + "results of --jmh if that file exists).")
    Path html;

    @Option(names = "--jmh", paramLabel = "FILE", defaultValue = "bench-results/jmh.json",
            description = "JMH results (from `tensorbuffer bench`) for the HTML report, if present "
                    + "(default: ${DEFAULT-VALUE}).")
    Path jmh;

    @Option(names = "--einsum", paramLabel = "INSTANCE.json", converter = InputFile.class,
            description = "With --html: also time one evaluation of this einsum instance per strategy (and NumPy's, "
                    + "where python3 with numpy is found); repeatable, e.g. "
                    + "data/einsum/str_matrix_chain_multiplication_100.json.")
    List<Path> einsum = new ArrayList<>();

    @Option(names = "--einsum-repeat", paramLabel = "N", defaultValue = "3",
            description = "Timed einsum evaluations per strategy, median reported (default: ${DEFAULT-VALUE}).")
    int einsumRepeat;

    @Option(names = "--requests", paramLabel = "N",
            description = "Instead of decoding from BOS: run N generation requests of varying prompt and generation "
                    + "length (drawn with --seed) one after another through one context per strategy, batched "
                    + "prefill, greedy, and report prefill and decode tokens/s, device allocations after the first 8 "
                    + "requests, hit rates and peak reserved bytes against the liveness lower bound. Default "
                    + "strategies then: none,reactive,proactive,planned.")
    Integer requests;

    @Option(names = "--max-prompt", paramLabel = "N",
            description = "With --requests: longest prompt drawn, in tokens (default: seq_len / 2).")
    Integer maxPrompt;

    @Option(names = "--max-new", paramLabel = "N",
            description = "With --requests: most new tokens drawn per request (default: seq_len / 2).")
    Integer maxNew;

    @Option(names = "--prefill", paramLabel = "MODE", defaultValue = "batched",
            description = "With --requests: batched or token prefill (default: ${DEFAULT-VALUE}).")
    String prefill;

    @Mixin
    MemorySnapshotOptions memoryOptions;

    @Mixin
    MemoryTimelineOption timelineOption; // one page per strategy: FILE-<strategy>.html

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        boolean json = jsonOption.json;
        String device = deviceOption.device;
        try {
            checkCounts();
            List<AllocationStrategy> list = new ArrayList<>();
            for (String s : strategies) {
                list.add(AllocationStrategy.parse(s.trim()));
            }
            Path m = model != null ? model : ModelFiles.modelsDir().resolve(ModelFiles.DEFAULT_MODEL);
            if (requests != null) {
                var parsed = spec == null ? null : spec.commandLine().getParseResult();
                if (parsed == null || !parsed.hasMatchedOption("--strategies")) {
                    list = List.of(AllocationStrategy.NONE, AllocationStrategy.REACTIVE,
                            AllocationStrategy.PROACTIVE, AllocationStrategy.PLANNED);
                }
                return RequestCompare.run(m, device, list, requests, seed, maxPrompt, maxNew,
                        PrefillMode.parse(prefill), warmup < 0 ? 1 : warmup, json, html,
                        RequestCompare.commandLine(spec), quiet, out,
                        err);
            }
            DecodeRequest req = new DecodeRequest(m, null, "", steps, temperature, topp, seed, device, list.getFirst());
            int minWarmup = warmup < 0 ? Comparison.STEADY_MIN_WARMUP : warmup;
            int maxWarmup = warmup < 0 ? Comparison.STEADY_MAX_WARMUP : warmup;
            int[] done = {0};
            int total = (warmup + runs) * list.size();
            Comparison c = Comparison.run(req, list, runs, minWarmup, maxWarmup, p -> {
                done[0]++;
                if (!quiet) {
                    // the total is known only for a fixed warm-up
                    String n = warmup < 0 ? String.valueOf(done[0]) : done[0] + "/" + total;
                    err.printf(Locale.ROOT, "compare: [%s] %-9s %s: %.0f tok/s, %.2f allocs/token%n", n,
                            p.strategy().name().toLowerCase(Locale.ROOT),
                            p.round() < 0 ? "warm-up " + (-p.round()) + (warmup < 0 ? " (until steady)" : "/"
                                    + warmup) : "run " + (p.round() + 1) + "/" + p.rounds(),
                            p.stats().tokensPerSecond(), p.stats().rawAllocsPerTokenSteady());
                }
            });
            if (json) {
                out.println(new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(json(c)));
            } else {
                out.println();
                out.print(CompareTable.render(c));
                out.println();
                out.print(CompareTable.legend(c));
            }
            if (memoryOptions.memorySnapshot != null || timelineOption.memoryTimeline != null) {
                writeSnapshots(req, list, err);
            }
            if (html != null) {
                writeHtml(c, req);
                if (!quiet) {
                    err.println("compare: report written to " + html);
                }
            }
            return c.idsIdentical() ? 0 : 3;
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException
                 | DeviceUnavailableException | PoolOutOfMemoryException | IOException e) {
            return CliErrors.report(spec.commandLine(), e);
        }
    }

    private void checkCounts() {
        if (runs < 1) {
            throw new ParameterException(spec.commandLine(), "--runs must be at least 1, got " + runs);
        }
        String w = warmupOption == null ? "steady" : warmupOption.trim();
        if (w.equals("steady")) {
            warmup = -1;
        } else {
            try {
                warmup = Integer.parseInt(w);
            } catch (NumberFormatException e) {
                throw new ParameterException(spec.commandLine(), "--warmup must be a number or 'steady', got '"
                        + warmupOption + "'");
            }
            if (warmup < 0) {
                throw new ParameterException(spec.commandLine(), "--warmup must be at least 0, got " + warmup);
            }
        }
        if (steps < 0) {
            throw new ParameterException(spec.commandLine(), "--steps must be at least 0, got " + steps);
        }
        if (einsumRepeat < 1) {
            throw new ParameterException(spec.commandLine(), "--einsum-repeat must be at least 1, got "
                    + einsumRepeat);
        }
    }

    /**
     * {@code --memory-snapshot FILE.pickle} and {@code --memory-timeline FILE.html}: one more (untimed) decode per
     * strategy, recorded into {@code FILE-<strategy>.pickle} and {@code FILE-<strategy>.html}.
     */
    private void writeSnapshots(DecodeRequest req, List<AllocationStrategy> list, PrintStream err)
            throws IOException {
        for (AllocationStrategy s : list) {
            String strategyName = s.name().toLowerCase(Locale.ROOT);
            Path pickle = perStrategy(memoryOptions.memorySnapshot, strategyName);
            Path page = perStrategy(timelineOption.memoryTimeline, strategyName);
            MemoryRecording rec = new MemoryRecording(page, pickle, memoryOptions.stacks, "decode "
                    + req.model().getFileName() + " (" + strategyName + ", " + req.device() + "), recorded after "
                    + "the comparison \u00b7 " + MemorySnapshotOptions.commandLine(spec));
            DecodeRun.run(req.withStrategy(s), null, rec);
            if (!quiet) {
                if (pickle != null) {
                    err.println("compare: memory snapshot of " + strategyName + " written to " + pickle);
                }
                if (page != null) {
                    err.println("compare: memory timeline of " + strategyName + " written to " + page);
                }
            }
        }
    }

    /** {@code FILE.ext} -> {@code FILE-<strategy>.ext}; {@code null} stays {@code null}. */
    private static Path perStrategy(Path file, String strategyName) {
        if (file == null) {
            return null;
        }
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? "" : name.substring(dot);
        return file.resolveSibling(stem + "-" + strategyName + ext);
    }

    private void writeHtml(Comparison c, DecodeRequest req) throws IOException {
        var parsed = spec.commandLine().getParseResult();
        StringBuilder cmd = new StringBuilder("./tensorbuffer");
        for (String a : parsed == null ? List.of("compare") : parsed.originalArgs()) {
            cmd.append(' ').append(a.matches("[A-Za-z0-9_./=,:+@%-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        RunInfo info = RunInfo.current(List.of(cmd.toString()));
        JmhResults jmhResults = null;
        RunInfo jmhInfo = null;
        if (jmh != null && Files.isRegularFile(jmh)) {
            jmhResults = JmhResults.read(jmh);
            Path side = RunInfo.sideFile(jmh);
            jmhInfo = Files.isRegularFile(side) ? RunInfo.read(side) : null;
        }
        long[][] sizes = CompareReport.decodeSizeClasses(req);
        List<CompareReport.EinsumTiming> timings = new ArrayList<>();
        List<AllocationStrategy> strategies = c.results().stream().map(CompareResult::strategy).toList();
        for (Path f : einsum) {
            if (!quiet) {
                System.err.println("compare: timing einsum " + f + " per strategy");
            }
            timings.add(CompareReport.einsum(f, strategies, req.device(), Math.max(1, einsumRepeat)));
        }
        CompareReport.build(c, info, sizes, timings, jmhResults, jmhInfo).write(html);
    }

    private static Map<String, Object> json(Comparison c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("machine", c.machine());
        m.put("model", c.request().model().toString());
        m.put("warmup_rounds", c.warmup());
        m.put("ids_identical", c.idsIdentical());
        List<Object> rs = new ArrayList<>();
        for (CompareResult r : c.results()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("strategy", r.name());
            o.put("tokens_per_s_median", r.tokensPerSecond());
            o.put("tokens_per_cpu_s_median", nan(r.tokensPerCpuSecond()));
            o.put("first_token_ms_median", r.firstTokenMillis());
            o.put("first_token_cpu_ms_median", nan(r.firstTokenCpuMillis()));
            o.put("raw_allocs_first_step_median", r.rawAllocsFirst());
            o.put("reserve_ms_median", r.reserveMillis());
            o.put("raw_allocs_per_token_steady_median", r.rawAllocsPerTokenSteady());
            o.put("pool_hit_rate_steady_median", nan(r.poolHitRateSteady()));
            o.put("tensorbuffer_hit_rate_median", nan(r.tensorBufferHitRate()));
            o.put("peak_live_bytes_median", r.peakLiveBytes());
            o.put("peak_reserved_bytes_median", r.peakReservedBytes());
            o.put("liveness_lower_bound_bytes", r.lowerBoundBytes());
            o.put("peak_reserved_over_lower_bound_median", nan(r.reservedOverLowerBound()));
            List<Object> runs = new ArrayList<>();
            for (DecodeStats s : r.runs()) {
                runs.add(DecodeCommand.json(s, c.request().model(), c.request().seed(), null));
            }
            o.put("runs", runs);
            rs.add(o);
        }
        m.put("results", rs);
        return m;
    }

    private static Double nan(double v) {
        return Double.isNaN(v) ? null : v;
    }
}
