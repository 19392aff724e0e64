package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.ReservationKeying;
import org.tensorbuffer.memory.ReservationPlan;

/** Proactive einsum: reservations from one evaluation recorded on the meta device, no hand-written list. */
class ProactiveEinsumTest {
    private static final String[] SMALL = {"bin_matmul_256", "str_matrix_chain_multiplication_100",
        "lm_batch_likelihood_sentence_3_12d", "str_nw_mera_open_26"};

    @Test
    void aPlanRecordedOnMetaEqualsOneRecordedOnCpu() throws IOException {
        for (String name : SMALL) {
            Contraction plan = Contraction.plan(Instance.read(TestSupport.instance(name)), "opt_flops");
            ReservationPlan meta = Evaluator.recordEvaluation(plan, "meta", ReservationKeying.SHAPE);
            assertThat(meta.size()).as(name).isPositive();
            assertThat(meta).as(name).isEqualTo(Evaluator.recordEvaluation(plan, "cpu", ReservationKeying.SHAPE));
        }
    }

    @Test
    void evaluationsAfterReservingTheRecordedPlanMakeNoMissOnCpu() throws IOException {
        for (String name : SMALL) {
            Instance inst = Instance.read(TestSupport.instance(name));
            Contraction plan = Contraction.plan(inst, "opt_flops");
            try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PROACTIVE)) {
                ctx.strategy(AllocationStrategy.NONE);
                List<Tensor> ops = Operands.seeded(inst, 7, ctx);
                ctx.strategy(AllocationStrategy.PROACTIVE);
                ctx.tensorBuffer().reserve(Evaluator.recordEvaluation(plan));
                long allocs = ctx.rawAllocations();
                Evaluator ev = new Evaluator(plan);
                double[] first = values(ev.evaluate(ops, false));
                double[] second = values(ev.evaluate(ops, false));
                assertThat(ctx.tensorBuffer().stats().misses()).as(name).isZero();
                assertThat(ctx.rawAllocations()).as(name).isEqualTo(allocs);
                ctx.strategy(AllocationStrategy.REACTIVE);
                double[] reactive = values(ev.evaluate(ops, false));
                assertThat(maxDiff(first, reactive)).as(name + " first vs reactive").isZero();
                assertThat(maxDiff(second, reactive)).as(name + " second vs reactive").isZero();
                ops.forEach(Tensor::close);
            }
        }
    }

    private static double maxDiff(double[] a, double[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static double[] values(Tensor t) {
        try (t) {
            return t.toDoubleArray();
        }
    }

    @Test
    void everyInstanceMakesNoMissOnItsSecondEvaluation() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(TestSupport.instance("bin_matmul_256").getParent())) {
            files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertThat(files).hasSize(14);
        for (Path f : files) {
            Instance inst = Instance.read(f);
            Contraction plan = Contraction.plan(inst, "opt_flops");
            // on meta: the allocators behave as on a device, the kernels compute nothing
            try (TensorContext ctx = TensorContext.create(Devices.get("meta"), AllocationStrategy.NONE)) {
                List<Tensor> ops = Operands.seeded(inst, 1, ctx);
                ctx.strategy(AllocationStrategy.PROACTIVE);
                ReservationPlan r = Evaluator.recordEvaluation(plan);
                for (ReservationKeying k : ReservationKeying.values()) { // the default keeps the least of the three
                    assertThat(r.totalBytes()).as(inst.name() + " " + k)
                            .isLessThanOrEqualTo(Evaluator.recordEvaluation(plan, "meta", k).totalBytes());
                }
                ctx.tensorBuffer().reserve(r);
                assertThat(ctx.tensorBuffer().keying()).isEqualTo(r.keying());
                Evaluator ev = new Evaluator(plan);
                ev.evaluate(ops, false).close();
                long misses = ctx.tensorBuffer().stats().misses();
                ev.evaluate(ops, false).close();
                assertThat(ctx.tensorBuffer().stats().misses() - misses).as(inst.name()).isZero();
                assertThat(misses).as(inst.name()).isZero();
                assertThat(ctx.tensorBuffer().stats().reservedBytes()).isEqualTo(r.totalBytes());
                ops.forEach(Tensor::close);
            }
        }
    }
}
