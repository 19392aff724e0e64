package org.tensorbuffer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.einsum.Contraction;
import org.tensorbuffer.einsum.Evaluator;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.plan.AllocationRecord;
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
 * pool bytes from misses); proactive by elements (the same reservation keyed by element count and dtype, a view of
 * the requested shape over the block, as design note 002's TensorPool); planned (the arena plus the pool bytes of
 * its recording run); and the proactive misses of the second evaluation.
 *
 * <p>Usage: {@code EinsumMemory [DIR]} (default {@code data/einsum}); prints a Markdown table.
 */
public final class EinsumMemory {
    private EinsumMemory() {
    }

    /** One instance's figures in bytes. */
    public record Row(String instance, long lowerBound, long none, long reactive, long proactive,
                      long proactiveByElements, long planned, long proactiveMissesSecond) {
    }

    /** Prints the table for the instances in the directory given (or {@code data/einsum}). */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "data/einsum");
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        System.out.println("| instance | lower bound | none | reactive | proactive (shape) | proactive (elements) "
                + "| planned | proactive misses, 2nd evaluation |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (Path f : files) {
            Row r = measure(Instance.read(f));
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %d |%n", r.instance(),
                    Format.bytes(r.lowerBound()), cell(r.none(), r), cell(r.reactive(), r), cell(r.proactive(), r),
                    cell(r.proactiveByElements(), r), cell(r.planned(), r), r.proactiveMissesSecond());
        }
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
        ReservationPlan recorded = Evaluator.recordEvaluation(plan);
        long[] pro = peakReserved(inst, plan, AllocationStrategy.PROACTIVE, recorded);
        return new Row(inst.name(), trace.lowerBound(), trace.peakLiveBytes(), reactive, pro[0],
                byElements(trace), planned, pro[1]);
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

    /**
     * Bytes a TensorBuffer keyed by (element count, dtype) would reserve for the trace: per key the peak number of
     * live tensors times the key's bytes.
     */
    static long byElements(AllocationTrace trace) {
        record Key(long elements, DType dtype) {
        }
        Map<Key, int[]> live = new LinkedHashMap<>();
        int n = trace.size();
        long[][] ev = new long[2 * n][];
        for (int i = 0; i < n; i++) {
            AllocationRecord r = trace.get(i);
            ev[2 * i] = new long[] {r.firstUse(), 0, i};
            ev[2 * i + 1] = new long[] {r.lastUse(), 1, i};
        }
        Arrays.sort(ev, (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        for (long[] e : ev) {
            AllocationRecord r = trace.get((int) e[2]);
            int[] c = live.computeIfAbsent(new Key(r.shape().elementCount(), r.dtype()), k -> new int[2]);
            if (e[1] == 0) {
                c[1] = Math.max(c[1], ++c[0]);
            } else {
                c[0]--;
            }
        }
        long bytes = 0;
        for (Map.Entry<Key, int[]> e : live.entrySet()) {
            bytes += e.getValue()[1] * e.getKey().elements() * e.getKey().dtype().byteSize();
        }
        return bytes;
    }
}
