package org.tensorbuffer.cli;

import com.google.gson.GsonBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.einsum.AllocationProfile;
import org.tensorbuffer.einsum.Contraction;
import org.tensorbuffer.einsum.Evaluator;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.einsum.Npy;
import org.tensorbuffer.einsum.Operands;
import org.tensorbuffer.plan.MemoryPlan;
import org.tensorbuffer.plan.PlanStats;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.observe.MemoryHistory;
import org.tensorbuffer.observe.MemoryRecording;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tensorbuffer einsum INSTANCE.json}: contracts an einsum-benchmark instance along one of its paths, with the
 * chosen allocation strategy, and reports time per evaluation and the allocation profile.
 *
 * <p>The context (and so the pool and the TensorBuffer) lives across the warm-up and the {@code --repeat} timed
 * evaluations. With {@code proactive}, every intermediate and temporary shape of the plan is reserved before the
 * first evaluation, as many of each as are live at once. The time of an evaluation covers the whole contraction,
 * the allocations and the frees of its intermediates, not the making of the inputs (as the strided-rs benchmark
 * suite measures).
 */
@Command(name = "einsum", mixinStandardHelpOptions = true,
        description = "Contract an einsum-benchmark instance (JSON) through the pools; time and allocation profile.")
final class EinsumCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "INSTANCE.json", converter = InputFile.class,
            description = "Instance file (e.g. data/einsum/*.json).")
    Path instanceFile;

    @Option(names = "--path", defaultValue = "opt_flops", description = "Contraction path: opt_flops or opt_size "
            + "(default ${DEFAULT-VALUE}).")
    String path;

    @Option(names = "--inputs", paramLabel = "DIR", converter = InputFile.Directory.class, description = "Read operand k from DIR/k.npy (float64, C order, "
            + "the instance's shape); default: seeded values.")
    Path inputs;

    @Option(names = "--output", paramLabel = "FILE.npy", converter = OutputFile.class,
            description = "Write the result (of the last evaluation) as a .npy file (checked to be writable before "
                    + "the run).")
    Path output;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the generated operands (default "
            + "${DEFAULT-VALUE}): element = (2u-1)*sqrt(3)*prod(dims)^(-1/4), u from SplittableRandom(seed).")
    long seed;

    @Option(names = "--repeat", defaultValue = "5", description = "Timed evaluations (default ${DEFAULT-VALUE}); "
            + "the median is reported.")
    int repeat;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed evaluations first (default "
            + "${DEFAULT-VALUE}).")
    int warmup;

    @Mixin
    StrategyOption strategyOption; // planned: each evaluation a planned run, the first recorded, later ones replay it

    @Mixin
    DeviceOption deviceOption;

    @Option(names = "--profile", description = "Print the allocation size histogram.")
    boolean profile;

    @Mixin
    JsonOption jsonOption;

    @Mixin
    MemoryTimelineOption timelineOption; // operands, warm-up and timed evaluations

    @Mixin
    MemorySnapshotOptions memoryOptions;

    @Mixin
    ReservationPlanOptions planOptions;

    @Override
    public Integer call() throws Exception {
        if (repeat < 1) {
            throw new ParameterException(spec.commandLine(), "--repeat must be at least 1, got " + repeat);
        }
        if (warmup < 0) {
            throw new ParameterException(spec.commandLine(), "--warmup must be at least 0, got " + warmup);
        }
        boolean json = jsonOption.json;
        Path memoryTimeline = timelineOption.memoryTimeline;
        String device = deviceOption.device;
        AllocationStrategy strat = strategyOption.or(AllocationStrategy.REACTIVE);
        boolean planned = strat == AllocationStrategy.PLANNED;
        Instance inst = Instance.read(instanceFile);
        Contraction plan = Contraction.plan(inst, path);
        org.tensorbuffer.memory.ReservationPlan loadedPlan = planOptions.load(strat);
        Device dev = Devices.get(device);
        Map<String, Object> out = new LinkedHashMap<>();
        MemoryRecording recording = memoryOptions.recording(memoryTimeline, "einsum " + inst.name() + " ("
                + strat.name().toLowerCase(Locale.ROOT) + ", " + dev.id() + ")", spec);
        try (TensorContext ctx = TensorContext.create(dev, strat);
             MemoryHistory history = recording.start(ctx)) {
            List<Tensor> ops = inputs != null ? Operands.fromNpy(inst, inputs, ctx) : Operands.seeded(inst, seed, ctx);
            if (strat == AllocationStrategy.PROACTIVE) {
                org.tensorbuffer.memory.ReservationPlan rp = loadedPlan != null ? loadedPlan
                        : Evaluator.recordEvaluation(plan); // one evaluation recorded on meta
                ctx.tensorBuffer().reserve(rp);
                planOptions.save(rp, System.err, json);
            }
            Evaluator ev = new Evaluator(plan);
            StderrProgress progress = new StderrProgress(System.err, true, "einsum " + inst.name());
            for (int w = 0; w < warmup; w++) {
                progress.update("warm-up evaluation " + (w + 1) + "/" + warmup + " (untimed, JIT compiling)");
                // under PLANNED each evaluation is one planned run: the first is recorded and planned, later ones replay
                try (PlannedRun run = planned ? ctx.run() : null) {
                    ev.evaluate(ops, false).close();
                }
            }
            PoolStats p0 = ctx.pool().stats();
            TensorBufferStats b0 = ctx.tensorBuffer().stats();
            long raw0 = ctx.rawAllocations();
            long[] times = new long[repeat];
            long peak = 0;
            double norm = 0;
            long[] resultShape = null;
            for (int r = 0; r < repeat; r++) {
                boolean last = r == repeat - 1;
                if (r > 0) {
                    long[] done = Arrays.copyOf(times, r);
                    Arrays.sort(done);
                    progress.update(String.format(Locale.ROOT, "timed evaluation %d/%d, median so far %.1f ms",
                            r + 1, repeat, done[r / 2] / 1e6));
                } else {
                    progress.update("timed evaluation 1/" + repeat);
                }
                long t0 = System.nanoTime();
                Tensor res;
                try (PlannedRun run = planned ? ctx.run() : null) {
                    res = ev.evaluate(ops, last);                // the result escapes the run; closed below
                }
                try {
                    dev.synchronize();
                    times[r] = System.nanoTime() - t0;
                    peak = Math.max(peak, ev.peakLiveBytes());
                    if (last) {
                        double[] v = res.toDoubleArray();
                        double s = 0;
                        for (double x : v) {
                            s += x * x;
                        }
                        norm = Math.sqrt(s);
                        resultShape = res.shape().dims();
                        if (output != null) {
                            Npy.write(output, resultShape, v);
                        }
                    }
                } finally {
                    res.close(); // also when writing fails: no false "memory leaked" report at close
                }
            }
            progress.done();
            PoolStats p1 = ctx.pool().stats();
            TensorBufferStats b1 = ctx.tensorBuffer().stats();
            long raw1 = ctx.rawAllocations();
            recording.finish(history);
            if (memoryTimeline != null) {
                out.put("memory_timeline", memoryTimeline.toString());
            }
            if (memoryOptions.memorySnapshot != null) {
                out.put("memory_snapshot", memoryOptions.memorySnapshot.toString());
            }
            AllocationProfile prof = AllocationProfile.of(plan, peak);

            long[] sorted = times.clone();
            Arrays.sort(sorted);
            double median = (sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2.0) / 1e6;
            out.put("instance", inst.name());
            out.put("path", path);
            out.put("strategy", strat.name().toLowerCase(Locale.ROOT));
            out.put("device", dev.id());
            out.put("steps", plan.steps().size());
            out.put("repeat", repeat);
            out.put("warmup", warmup);
            out.put("median_ms", median);
            List<Double> ms = new ArrayList<>();
            for (long t : times) {
                ms.add(t / 1e6);
            }
            out.put("times_ms", ms);
            out.put("allocations", prof.allocations());
            out.put("intermediates", prof.intermediates());
            out.put("temporaries", prof.allocations() - prof.intermediates());
            out.put("bytes_allocated", prof.totalBytes());
            out.put("median_bytes", prof.medianBytes());
            out.put("max_bytes", prof.maxBytes());
            out.put("peak_live_bytes", prof.peakLiveBytes());
            out.put("liveness_lower_bound_bytes", prof.livenessLowerBound());
            long poolReq = p1.requests() - p0.requests();
            long poolHits = p1.hits() - p0.hits();
            long tbReq = b1.requests() - b0.requests();
            long tbHits = b1.hits() - b0.hits();
            out.put("pool_requests", poolReq);
            out.put("pool_hit_rate", poolReq == 0 ? 0.0 : (double) poolHits / poolReq);
            out.put("tensorbuffer_requests", tbReq);
            out.put("tensorbuffer_hit_rate", tbReq == 0 ? 0.0 : (double) tbHits / tbReq);
            long total = (long) repeat * prof.allocations();
            out.put("device_allocations", raw1 - raw0);
            out.put("hit_rate", total == 0 ? 0.0 : Math.max(0.0, 1.0 - (double) (raw1 - raw0) / total));
            out.put("result_shape", resultShape);
            out.put("result_norm", norm);
            if (planned) {
                PlanStats ps = ctx.planner().stats();
                MemoryPlan mp = ctx.planner().plan();
                out.put("plan_algorithm", mp.algorithm().displayName());
                out.put("plan_arena_bytes", mp.arenaBytes());
                out.put("plan_lower_bound_bytes", mp.lowerBound());
                out.put("plan_ratio", mp.ratio());
                out.put("plan_replayed_runs", ps.replayedRuns());
                out.put("plan_divergent_runs", ps.divergentRuns());
            }
            if (profile) {
                out.put("histogram_bytes", prof.histogram());
                out.put("intermediate_histogram_bytes", prof.intermediateHistogram());
            }
            if (json) {
                System.out.println(new GsonBuilder().serializeSpecialFloatingPointValues().create().toJson(out));
            } else {
                System.out.printf(Locale.ROOT, "%s (%s, %d steps) on %s, strategy %s: median %.3f ms over %d "
                                + "(times %s)%n", inst.name(), path, plan.steps().size(), dev.id(), out.get("strategy"),
                        median, repeat, ms);
                System.out.printf(Locale.ROOT, "allocations/evaluation %d (%d intermediates), device allocations "
                                + "%d in %d evaluations, hit rate %.1f%%, peak live %d B, liveness lower bound %d B%n",
                        prof.allocations(), prof.intermediates(), raw1 - raw0, repeat,
                        100 * (double) out.get("hit_rate"), prof.peakLiveBytes(), prof.livenessLowerBound());
                System.out.printf(Locale.ROOT, "result shape %s, norm %.17g%n", Arrays.toString(resultShape), norm);
                if (planned) {
                    System.out.printf(Locale.ROOT, "plan %s: arena %d B, lower bound %d B, ratio %.4f; %d runs "
                                    + "replayed, %d divergent%n", out.get("plan_algorithm"), out.get("plan_arena_bytes"),
                            out.get("plan_lower_bound_bytes"), (double) out.get("plan_ratio"),
                            out.get("plan_replayed_runs"), out.get("plan_divergent_runs"));
                }
                if (profile) {
                    System.out.print(prof.render());
                }
            }
        }
        return 0;
    }
}
