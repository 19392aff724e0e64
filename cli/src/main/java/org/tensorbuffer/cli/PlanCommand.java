package org.tensorbuffer.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.einsum.Contraction;
import org.tensorbuffer.einsum.Evaluator;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.einsum.Operands;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.llama.Transformer;
import org.tensorbuffer.plan.AllocationTrace;
import org.tensorbuffer.plan.MemoryPlan;
import org.tensorbuffer.plan.PlanSvg;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.plan.PlanningAlgorithm;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tensorbuffer plan INSTANCE.json | --model PATH [--svg FILE]}: the liveness-based memory plan of one einsum
 * evaluation or one decode step, per planning algorithm: tensors, arena bytes, lower bound and their ratio.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Plan one arena for an einsum evaluation or a decode step and print, per planning algorithm, "
                + "the tensors, arena bytes, lower bound (max live bytes over time) and arena / lower bound.",
                "For an einsum instance the trace is the contraction path's schedule (operands, then one result per "
                        + "step, inputs released when used), or with --recorded one real evaluation; for a model it is "
                        + "one recorded decode step."})
final class PlanCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Parameters(index = "0", paramLabel = "INSTANCE.json", converter = InputFile.class, description = "einsum instance (format_string, shapes, "
                + "dtype, paths)")
        Path instance;

        @Option(names = "--model", paramLabel = "PATH", converter = InputFile.class, description = "llama2.c checkpoint: plan one decode step")
        Path model;
    }

    @Option(names = "--path", defaultValue = "opt_flops", description = "contraction path: opt_flops or opt_size "
            + "(default ${DEFAULT-VALUE})")
    String path;

    @Option(names = "--svg", paramLabel = "FILE", converter = OutputFile.class, description = "write the plan as SVG (x: time, y: offset, one "
            + "rectangle per tensor)")
    Path svg;

    @Option(names = "--algorithm", paramLabel = "NAME", description = "plan drawn in the SVG: greedy-by-size, "
            + "greedy-by-breadth or in-order-best-fit (default: the smallest arena)")
    String algorithm;

    @Option(names = "--alignment", defaultValue = "64", description = "alignment of every tensor in bytes "
            + "(default ${DEFAULT-VALUE})")
    long alignment;

    @Option(names = "--recorded", description = "for an instance: record one real evaluation (operands seeded and "
            + "allocated before the run, intermediates and GEMM temporaries inside it) instead of the contraction "
            + "schedule")
    boolean recorded;

    @Mixin
    DeviceOption deviceOption; // the device a recorded run runs on

    @Spec
    CommandSpec spec;

    /**
     * Records one decode step ({@code forward(BOS, 0)}) of the checkpoint under the PLANNED strategy and returns its
     * trace; the weights and KV cache are allocated outside the run and are not part of it.
     */
    static AllocationTrace decodeStepTrace(Path model, String deviceId) throws IOException {
        try (Checkpoint ck = Checkpoint.open(model);
             TensorContext ctx = TensorContext.create(Devices.get(deviceId), AllocationStrategy.PLANNED);
             Transformer t = Transformer.load(ck, ctx, model.getFileName().toString())) {
            t.allocateCache();
            try (PlannedRun run = ctx.run(); Tensor logits = t.forward(Tokenizer.BOS, 0)) {
                logits.checkLive();
            }
            return ctx.planner().lastTrace();
        }
    }

    /**
     * Records one evaluation of an einsum instance under the PLANNED strategy and returns its trace: what a replayed
     * evaluation allocates (intermediates and temporaries; the operands live outside the run, the result escapes).
     */
    static AllocationTrace einsumEvaluationTrace(Path file, String pathName, String deviceId) throws IOException {
        Instance inst = Instance.read(file);
        Contraction contraction = Contraction.plan(inst, pathName);
        try (TensorContext ctx = TensorContext.create(Devices.get(deviceId), AllocationStrategy.PLANNED)) {
            List<Tensor> ops = Operands.seeded(inst, 1, ctx);
            Tensor result;
            try (PlannedRun run = ctx.run()) {
                result = new Evaluator(contraction).evaluate(ops, true);
            }
            result.close();
            return ctx.planner().lastTrace();
        }
    }

    /**
     * The allocation schedule an einsum instance's contraction path implies, derived without running it: the operands
     * are allocated first, then each pairwise step allocates its result and releases its inputs (opt_einsum's path
     * convention: the step's positions in the current operand list are removed and the result appended). A label is
     * kept in an intermediate when another remaining operand or the output has it. The final result escapes. This is
     * the minimum an evaluation allocates; a real one adds the permuted copies its GEMMs need ({@code --recorded}).
     */
    static AllocationTrace scheduleTrace(Instance inst, String pathName, long alignment) {
        int[][] steps = inst.path(pathName);
        DType dtype = DType.F64;
        List<int[]> labels = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        AllocationTrace.Builder rec = new AllocationTrace.Builder();
        for (int t = 0; t < inst.operandCount(); t++) {
            labels.add(inst.term(t));
            Shape shape = Shape.of(inst.shape(t));
            ids.add(rec.allocated(shape.byteSize(dtype), alignment, shape, dtype));
        }
        for (int[] step : steps) {
            int[] pos = step.clone();
            java.util.Arrays.sort(pos);
            List<int[]> in = new ArrayList<>();
            List<Integer> inIds = new ArrayList<>();
            for (int k = pos.length - 1; k >= 0; k--) {
                in.add(0, labels.remove(pos[k]));
                inIds.add(0, ids.remove(pos[k]));
            }
            Set<Integer> keep = new LinkedHashSet<>();
            for (int[] other : labels) {
                for (int c : other) {
                    keep.add(c);
                }
            }
            for (int c : inst.output()) {
                keep.add(c);
            }
            List<Integer> res = new ArrayList<>();
            for (int k : step.length == 2 ? new int[] {0, 1} : new int[] {0}) {
                // opt_einsum order: the step's first named operand, then its second
                int[] src = in.get(step.length == 2 && step[0] > step[1] ? 1 - k : k);
                for (int c : src) {
                    if (keep.contains(c) && !res.contains(c)) {
                        res.add(c);
                    }
                }
            }
            long[] d = new long[res.size()];
            for (int k = 0; k < d.length; k++) {
                d[k] = inst.labelDim(res.get(k));
            }
            Shape shape = Shape.of(d);
            int id = rec.allocated(shape.byteSize(dtype), alignment, shape, dtype);
            boolean swapped = step.length == 2 && step[0] > step[1];
            for (int k = 0; k < inIds.size(); k++) {
                rec.released(inIds.get(swapped ? inIds.size() - 1 - k : k)); // in the step's order
            }
            labels.add(res.stream().mapToInt(Integer::intValue).toArray());
            ids.add(id);
        }
        return rec.build();
    }

    @Override
    public Integer call() {
        try {
            return plan();
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException | IOException e) {
            return CliErrors.report(spec.commandLine(), e);
        }
    }

    private int plan() throws IOException {
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new ParameterException(spec.commandLine(), "--alignment " + alignment + " is not a power of two");
        }
        String device = deviceOption.device;
        if (algorithm != null) {
            PlanningAlgorithm.parse(algorithm); // an unknown name is refused before the work
        }
        String what;
        AllocationTrace trace;
        if (source.instance != null && recorded) {
            trace = einsumEvaluationTrace(source.instance, path, device);
            what = source.instance.getFileName() + " (recorded evaluation, path " + path + ", device " + device + ")";
        } else if (source.instance != null) {
            Instance instance = Instance.read(source.instance);
            Contraction.plan(instance, path); // validates as einsum does (label sizes, path)
            trace = scheduleTrace(instance, path, alignment);
            what = source.instance.getFileName() + " (contraction schedule, path " + path + ")";
        } else {
            trace = decodeStepTrace(source.model, device);
            what = source.model.getFileName() + " (recorded decode step at position 0, device " + device + ")";
        }
        List<MemoryPlan> plans = new ArrayList<>();
        for (PlanningAlgorithm a : PlanningAlgorithm.values()) {
            plans.add(a.plan(trace));
        }
        print(what, trace, plans);
        if (svg != null) {
            MemoryPlan drawn = algorithm == null ? best(plans)
                    : plans.get(PlanningAlgorithm.parse(algorithm).ordinal());
            Files.writeString(svg, PlanSvg.render(drawn, "plan of " + what + " \u00b7 "
                    + MemorySnapshotOptions.commandLine(spec)), StandardCharsets.UTF_8);
            System.out.println("svg:         " + svg + " (" + drawn.algorithm().displayName() + ")");
        }
        return 0;
    }

    static MemoryPlan best(List<MemoryPlan> plans) {
        MemoryPlan b = plans.get(0);
        for (MemoryPlan p : plans) {
            if (p.arenaBytes() < b.arenaBytes()) {
                b = p;
            }
        }
        return b;
    }

    static void print(String what, AllocationTrace trace, List<MemoryPlan> plans) {
        System.out.println("plan of     " + what);
        System.out.printf(Locale.ROOT, "tensors     %d (%d escape the run)%n", trace.size(), trace.escapedCount());
        System.out.printf(Locale.ROOT, "peak live   %,d B requested, %,d B aligned (lower bound)%n",
                trace.peakLiveBytes(), trace.lowerBound());
        System.out.printf(Locale.ROOT, "no sharing  %,d B%n", trace.totalBytes());
        System.out.printf(Locale.ROOT, "%-20s %16s %16s %8s%n", "algorithm", "arena bytes", "lower bound", "ratio");
        for (MemoryPlan p : plans) {
            System.out.printf(Locale.ROOT, "%-20s %,16d %,16d %8.4f%n", p.algorithm().displayName(), p.arenaBytes(),
                    p.lowerBound(), p.ratio());
        }
        MemoryPlan b = best(plans);
        System.out.printf(Locale.ROOT, "best        %s (ratio %.4f)%n", b.algorithm().displayName(), b.ratio());
        org.tensorbuffer.memory.ReservationPlan r = trace.reservationPlan();
        if (r.size() > 0) {
            System.out.printf(Locale.ROOT, "proactive   %,d B reserved by exact shape (%.4f x the lower bound):%n",
                    r.totalBytes(), trace.lowerBound() == 0 ? 0.0 : (double) r.totalBytes() / trace.lowerBound());
            System.out.print(r);
        }
    }
}
