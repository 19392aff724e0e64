package org.tensorbuffer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.einsum.Contraction;
import org.tensorbuffer.einsum.Evaluator;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.memory.ReservationKeying;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.plan.AllocationTrace;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Per einsum instance and allocation strategy, the device memory one evaluation holds at its peak against the
 * liveness lower bound, measured on the {@code meta} device (the allocators behave as on a real device; the kernels
 * compute nothing, so the whole suite takes seconds). Operands are allocated outside the strategy (raw), so the
 * figures are the evaluation's own: intermediates, GEMM temporaries and the result.
 *
 * <p>Columns: lower bound (the planner's bound over a recorded evaluation, 64-byte aligned); none (the evaluation's
 * peak of live bytes: what raw allocations hold); reactive (the BufferPool's peak reserved bytes over two
 * evaluations); proactive (the TensorBuffer's reservation from an evaluation recorded on meta, exact shapes; plus any
 * pool bytes from misses); proactive by elements and by size class (the TensorBuffer keyed by
 * {@link ReservationKeying#ELEMENTS} and {@link ReservationKeying#SIZE_CLASS}, each recorded and reserved in that mode:
 * a view of the requested shape over the block, as design note 002's TensorPool); planned (the arena plus the pool
 * bytes of its recording run); and each keying's TensorBuffer misses in the second evaluation (packed in
 * {@link Row#proactiveMissesSecond()}, 21 bits per keying: shape, elements, size class).
 *
 * <p>Usage: {@code EinsumMemory [DIR]} (default {@code data/einsum}); prints a Markdown table.
 */
public final class EinsumMemory {
    private EinsumMemory() {
    }

    /** One instance's figures in bytes. */
    public record Row(String instance, long lowerBound, long none, long reactive, long proactive,
                      long proactiveByElements, long proactiveBySizeClass, long planned, long proactiveMissesSecond) {
    }

    /** Prints the table for the instances in the directory given (or {@code data/einsum}). */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "data/einsum");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        System.out.println("| instance | lower bound | none | reactive | proactive (shape) | proactive (elements) "
                + "| proactive (size class) | planned | proactive misses, 2nd evaluation (shape/elements/size class) |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Path f : files) {
            Row r = measure(Instance.read(f));
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.instance(),
                    Format.bytes(r.lowerBound()), cell(r.none(), r), cell(r.reactive(), r), cell(r.proactive(), r),
                    cell(r.proactiveByElements(), r), cell(r.proactiveBySizeClass(), r), cell(r.planned(), r),
                    misses(r.proactiveMissesSecond()));
        }
    }

    /** The three keyings' second-evaluation misses, packed by {@link #measure} 21 bits each. */
    private static String misses(long packed) {
        return (packed & 0x1fffff) + "/" + ((packed >>> 21) & 0x1fffff) + "/" + (packed >>> 42);
    }

    private static String cell(long v, Row r) {
        return String.format(Locale.ROOT, "%s (%.2fx)", Format.bytes(v),
                r.lowerBound() == 0 ? 0.0 : (double) v / r.lowerBound());
    }

    /** Measures one instance along its opt_flops path. */
    public static Row measure(Instance inst) {
        Contraction plan = Contraction.plan(inst, "opt_flops");
        AllocationTrace trace;
        long planned;
        try (TensorContext ctx = TensorContext.create(Devices.get("meta"), AllocationStrategy.NONE)) {
            List<Tensor> ops = operands(inst, ctx);
            ctx.strategy(AllocationStrategy.PLANNED);
            Evaluator ev = new Evaluator(plan);
            for (int i = 0; i < 2; i++) {
                try (PlannedRun run = ctx.run()) {
                    ev.evaluate(ops, false).close();
                }
            }
            trace = ctx.planner().lastTrace();
            planned = ctx.planner().stats().arenaBytes() + ctx.pool().stats().peakReservedBytes();
            ops.forEach(Tensor::close);
        }
        long reactive = peakReserved(inst, plan, AllocationStrategy.REACTIVE, null)[0];
        long[][] pro = new long[3][];
        ReservationKeying[] modes = {ReservationKeying.SHAPE, ReservationKeying.ELEMENTS, ReservationKeying.SIZE_CLASS};
        for (int k = 0; k < 3; k++) {
            ReservationPlan recorded = Evaluator.recordEvaluation(plan, "meta", modes[k]);
            pro[k] = peakReserved(inst, plan, AllocationStrategy.PROACTIVE, recorded);
        }
        long misses = Math.min(pro[0][1], 0x1fffff) | Math.min(pro[1][1], 0x1fffff) << 21
                | Math.min(pro[2][1], 0x1fffff) << 42;
        return new Row(inst.name(), trace.lowerBound(), trace.peakLiveBytes(), reactive, pro[0][0], pro[1][0],
                pro[2][0], planned, misses);
    }

    /** {peak reserved bytes of pool + TensorBuffer over two evaluations, TensorBuffer misses of the second}. */
    private static long[] peakReserved(Instance inst, Contraction plan, AllocationStrategy s, ReservationPlan r) {
        try (TensorContext ctx = TensorContext.create(Devices.get("meta"), AllocationStrategy.NONE)) {
            List<Tensor> ops = operands(inst, ctx);
            ctx.strategy(s);
            if (r != null) {
                ctx.tensorBuffer().reserve(r);
            }
            Evaluator ev = new Evaluator(plan);
            ev.evaluate(ops, false).close();
            long misses = ctx.tensorBuffer().stats().misses();
            ev.evaluate(ops, false).close();
            misses = ctx.tensorBuffer().stats().misses() - misses;
            long peak = ctx.pool().stats().peakReservedBytes() + ctx.tensorBuffer().stats().peakReservedBytes();
            ops.forEach(Tensor::close);
            return new long[] {peak, misses};
        }
    }

    private static List<Tensor> operands(Instance inst, TensorContext ctx) {
        List<Tensor> ops = new ArrayList<>();
        for (int k = 0; k < inst.operandCount(); k++) {
            ops.add(ctx.empty(Shape.of(inst.shape(k)), DType.F64));
        }
        return ops;
    }
}
