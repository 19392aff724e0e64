package org.tensorbuffer.einsum;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;

/**
 * Per-step timing of one einsum instance (not a test; run by hand): {@code java -cp ... EinsumStepTiming
 * data/einsum/str_nw_mera_open_26.json [evaluations] [strategy]}. Each evaluation runs with
 * {@link Evaluator#timeSteps(boolean)} on; prints, per step, its GEMM sizes, the elements its operand preparations
 * gather, and the best and median milliseconds over the evaluations after the first two, then the evaluations'
 * totals. A step's time includes its operand permutes. With {@code -Dlabels=true} it also prints each step's
 * operand and result labels (name and extent), in their memory order.
 */
final class EinsumStepTiming {
    private EinsumStepTiming() {
    }

    public static void main(String[] args) throws Exception {
        Instance inst = Instance.read(Path.of(args[0]));
        int evals = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        AllocationStrategy strat = args.length > 2 ? AllocationStrategy.valueOf(args[2].toUpperCase(Locale.ROOT))
                : AllocationStrategy.REACTIVE;
        Contraction plan = Contraction.plan(inst, "opt_flops");
        List<Contraction.Step> steps = plan.steps();
        long[][] ns = new long[evals][];
        long[] total = new long[evals];
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), strat)) {
            List<Tensor> ops = Operands.seeded(inst, 0, ctx);
            if (strat == AllocationStrategy.PROACTIVE) {
                ctx.tensorBuffer().reserve(Evaluator.recordEvaluation(plan));
            }
            Evaluator ev = new Evaluator(plan);
            ev.timeSteps(true);
            for (int e = 0; e < evals; e++) {
                long t0 = System.nanoTime();
                ev.evaluate(ops, false).close();
                total[e] = System.nanoTime() - t0;
                ns[e] = ev.stepNanos();
            }
            ops.forEach(Tensor::close);
        }
        int from = Math.min(2, evals - 1);
        System.out.printf(Locale.ROOT, "%4s %-5s %6s %9s %9s %6s %2s%2s %10s %10s %9s %9s%n", "step", "kind", "batch",
                "m", "n", "k", "tP", "tQ", "gatherA", "gatherB", "best ms", "med ms");
        for (int i = 0; i < steps.size(); i++) {
            Contraction.Step s = steps.get(i);
            long[] t = new long[evals - from];
            for (int e = from; e < evals; e++) {
                t[e - from] = ns[e][i];
            }
            Arrays.sort(t);
            System.out.printf(Locale.ROOT, "%4d %-5s %6d %9d %9d %6d %2s%2s %10d %10d %9.2f %9.2f%n", i, s.kind(),
                    s.batch(), s.m(), s.n(), s.k(), s.transP() ? "T" : "-", s.transQ() ? "T" : "-",
                    gathered(s.prepA()), gathered(s.prepB()), t[0] / 1e6, t[t.length / 2] / 1e6);
        }
        if (Boolean.getBoolean("labels")) {
            // each slot's labels (extents in brackets): inputs from the instance, step results from the plan
            int n = inst.operandCount();
            int[][] slot = new int[n + steps.size()][];
            for (int k = 0; k < n; k++) {
                slot[k] = inst.term(k);
            }
            for (int i = 0; i < steps.size(); i++) {
                Contraction.Step s = steps.get(i);
                slot[s.out()] = s.outLabels();
                System.out.printf(Locale.ROOT, "%4d %s x %s -> %s%n", i, labels(inst, slot[s.a()]),
                        s.b() < 0 ? "-" : labels(inst, slot[s.b()]), labels(inst, s.outLabels()));
            }
        }
        Contraction.StridedOutput so = plan.stridedOutput();
        System.out.println(so == null ? "strided output: none" : "strided output: loops " + Arrays.toString(
                so.loopDims()) + " pStrides " + Arrays.toString(so.pStrides()) + " qStrides "
                + Arrays.toString(so.qStrides()) + " cStrides " + Arrays.toString(so.cStrides()) + " sub-GEMM "
                + so.mInner() + " x " + so.nInner() + " ldc " + so.ldc() + "; output " + plan.outputShape());
        StringBuilder sb = new StringBuilder("evaluations ms:");
        for (long t : total) {
            sb.append(String.format(Locale.ROOT, " %.1f", t / 1e6));
        }
        System.out.println(sb);
    }

    private static String labels(Instance inst, int[] ls) {
        StringBuilder sb = new StringBuilder();
        for (int l : ls) {
            sb.append(inst.labelName(l)).append(inst.labelDim(l)).append(' ');
        }
        return sb.toString().trim();
    }

    private static long gathered(Contraction.Prep p) {
        return p == null || p.gatherShape() == null ? 0 : p.gatherShape().elementCount();
    }
}
