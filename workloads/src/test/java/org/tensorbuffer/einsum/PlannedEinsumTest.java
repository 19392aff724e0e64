package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.plan.MemoryPlan;
import org.tensorbuffer.plan.PlanStats;
import org.tensorbuffer.plan.PlannedRun;

/**
 * Einsum evaluations replayed from a memory plan: results identical to the reactive strategy's, one device
 * allocation (the arena) after planning, and a run whose shapes change half-way falls back and reports it.
 */
class PlannedEinsumTest {
    private static final long SEED = 7;

    private static Contraction contraction(String name) throws Exception {
        return Contraction.plan(Instance.read(TestSupport.instance(name)), "opt_flops");
    }

    /** Evaluates {@code c} on seeded operands (kept across evaluations) {@code runs} times, one run each. */
    private static List<double[]> evaluate(TensorContext ctx, Contraction c, int runs) {
        List<Tensor> ops = Operands.seeded(c.instance(), SEED, ctx);
        Evaluator ev = new Evaluator(c);
        List<double[]> out = new ArrayList<>();
        try {
            for (int r = 0; r < runs; r++) {
                Tensor res;
                try (PlannedRun run = ctx.strategy() == AllocationStrategy.PLANNED ? ctx.run() : null) {
                    res = ev.evaluate(ops, false);
                }
                out.add(res.toDoubleArray());
                res.close();
            }
        } finally {
            ops.forEach(Tensor::close);
        }
        return out;
    }

    @Test
    void replayEqualsReactiveWithOneDeviceAllocation() throws Exception {
        Contraction c = contraction("str_matrix_chain_multiplication_100");
        double[] expected;
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE)) {
            expected = evaluate(ctx, c, 1).get(0);
        }
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PLANNED)) {
            List<Tensor> ops = Operands.seeded(c.instance(), SEED, ctx);
            Evaluator ev = new Evaluator(c);
            Tensor first;
            try (PlannedRun run = ctx.run()) {                   // recorded (served by the pool)
                first = ev.evaluate(ops, false);
            }
            assertThat(first.toDoubleArray()).containsExactly(expected);
            first.close();
            long afterPlanning = ctx.rawAllocations();          // includes the arena
            for (int r = 0; r < 2; r++) {
                Tensor res;
                try (PlannedRun run = ctx.run()) {
                    res = ev.evaluate(ops, false);
                }
                assertThat(res.toDoubleArray()).as("replay %d", r).containsExactly(expected);
                res.close();
            }
            assertThat(ctx.rawAllocations()).as("device allocations during replay").isEqualTo(afterPlanning);
            PlanStats st = ctx.planner().stats();
            assertThat(st.arenaAllocations()).isEqualTo(1);
            assertThat(st.replayedRuns()).isEqualTo(2);
            assertThat(st.divergentRuns()).isZero();
            MemoryPlan plan = ctx.planner().plan();
            assertThat(st.plannedAllocations()).isEqualTo(2L * plan.size());
            assertThat(plan.size()).isEqualTo(ev.allocations());
            // the recorded trace's peak equals the einsum profile's liveness lower bound (an independent count)
            assertThat(plan.trace().peakLiveBytes()).isEqualTo(AllocationProfile.of(c, -1).livenessLowerBound());
            assertThat(plan.ratio()).isLessThanOrEqualTo(1.05);
            ops.forEach(Tensor::close);
        }
    }

    @Test
    void shapesChangingHalfWayCompleteThroughTheFallback() throws Exception {
        Contraction a = contraction("str_matrix_chain_multiplication_100");
        Contraction b = contraction("bin_matmul_256");
        double[] expectedA;
        double[] expectedB;
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE)) {
            expectedA = evaluate(ctx, a, 1).get(0);
            expectedB = evaluate(ctx, b, 1).get(0);
        }
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PLANNED)) {
            List<Tensor> opsA = Operands.seeded(a.instance(), SEED, ctx);
            List<Tensor> opsB = Operands.seeded(b.instance(), SEED, ctx);
            Evaluator evA = new Evaluator(a);
            Evaluator evB = new Evaluator(b);
            // recorded run: A, then A again
            ctx.beginRun();
            evA.evaluate(opsA, false).close();
            evA.evaluate(opsA, false).close();
            ctx.endRun();
            int perEvaluation = (int) evA.allocations();
            assertThat(ctx.planner().plan().size()).isEqualTo(2 * perEvaluation);
            // divergent run: A, then B (other shapes from the second half on)
            ctx.beginRun();
            Tensor ra = evA.evaluate(opsA, false);
            Tensor rb = evB.evaluate(opsB, false);
            ctx.endRun();
            assertThat(ra.toDoubleArray()).containsExactly(expectedA);
            assertThat(rb.toDoubleArray()).containsExactly(expectedB);
            ra.close();
            rb.close();
            PlanStats st = ctx.planner().stats();
            assertThat(st.divergentRuns()).isEqualTo(1);
            assertThat(st.lastDivergence()).contains("allocation " + perEvaluation + " ");
            assertThat(st.plannedAllocations()).isEqualTo(perEvaluation);
            assertThat(st.fallbackAllocations()).isGreaterThanOrEqualTo(2L * perEvaluation + evB.allocations());
            // the workload changed for good: re-plan, then B-after-A replays cleanly
            ctx.planner().replan();
            ctx.beginRun();
            Tensor x = evA.evaluate(opsA, false);
            Tensor y = evB.evaluate(opsB, false);
            ctx.endRun();
            x.close();
            y.close();
            ctx.beginRun();
            Tensor ra2 = evA.evaluate(opsA, false);
            Tensor rb2 = evB.evaluate(opsB, false);
            ctx.endRun();
            assertThat(ra2.toDoubleArray()).containsExactly(expectedA);
            assertThat(rb2.toDoubleArray()).containsExactly(expectedB);
            ra2.close();
            rb2.close();
            assertThat(ctx.planner().stats().replayedRuns()).isEqualTo(1);
            assertThat(ctx.planner().stats().divergentRuns()).isEqualTo(1);
            opsA.forEach(Tensor::close);
            opsB.forEach(Tensor::close);
        }
    }
}
