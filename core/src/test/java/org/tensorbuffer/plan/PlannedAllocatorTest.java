package org.tensorbuffer.plan;

import org.tensorbuffer.testing.TestDevice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;

class PlannedAllocatorTest {
    private final TestDevice device = new TestDevice();
    private final List<TensorContext> contexts = new ArrayList<>();

    @AfterEach
    void closeAll() {
        contexts.forEach(TensorContext::close);
        assertThat(device.liveBuffers()).as("device buffers left after close").isZero();
    }

    private TensorContext context(AllocationStrategy s) {
        TensorContext ctx = TensorContext.create(device, s);
        contexts.add(ctx);
        return ctx;
    }

    /**
     * A small workload without kernels: a chain of steps x_{k+1} = f_k(x_k) computed on the host and uploaded, with a
     * long-lived accumulator, a view that outlives its base tensor, and a scratch tensor per step. Every tensor is
     * checked before it is closed, so an arena slice shared with a live tensor would show up as corrupted data.
     */
    private static float[] workload(TensorContext ctx, int n, int steps) {
        float[] host = new float[n];
        for (int i = 0; i < n; i++) {
            host[i] = i * 0.5f - 3;
        }
        Tensor acc = ctx.fromArray(new float[n], Shape.of(n));
        Tensor x = ctx.fromArray(host, Shape.of(n));
        for (int k = 0; k < steps; k++) {
            float[] xs = x.toFloatArray();
            float[] scratchData = new float[2 * n];
            for (int i = 0; i < n; i++) {
                scratchData[i] = xs[i] * (k + 1);
                scratchData[n + i] = xs[i] + k;
            }
            Tensor scratch = ctx.fromArray(scratchData, Shape.of(2, n));
            Tensor secondRow = scratch.row(1);   // view keeps the block after scratch is closed
            scratch.close();
            float[] a = new float[n];
            float[] s0 = scratchData;
            float[] s1 = secondRow.toFloatArray();
            for (int i = 0; i < n; i++) {
                a[i] = s0[i] - 0.25f * s1[i];
            }
            secondRow.close();
            Tensor y = ctx.fromArray(a, Shape.of(n));
            assertThat(x.toFloatArray()).as("x intact at step %d", k).containsExactly(xs);
            x.close();
            float[] accs = acc.toFloatArray();
            for (int i = 0; i < n; i++) {
                accs[i] += a[i];
            }
            Tensor acc2 = ctx.fromArray(accs, Shape.of(n));
            acc.close();
            acc = acc2;
            x = y;
        }
        float[] xs = x.toFloatArray();
        float[] accs = acc.toFloatArray();
        x.close();
        acc.close();
        float[] out = new float[2 * n];
        System.arraycopy(xs, 0, out, 0, n);
        System.arraycopy(accs, 0, out, n, n);
        return out;
    }

    @Test
    void replayGivesTheReactiveResultsWithOneDeviceAllocation() {
        float[] expected = workload(context(AllocationStrategy.REACTIVE), 100, 6);
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        try (PlannedRun run = ctx.run()) {
            assertThat(workload(ctx, 100, 6)).containsExactly(expected);
        }
        MemoryPlan plan = ctx.planner().plan();
        assertThat(plan).isNotNull();
        assertThat(plan.size()).isEqualTo(2 + 6 * 3);
        assertThat(plan.arenaBytes()).isLessThan(plan.trace().totalBytes());
        // per step: acc, x and scratch (448 + 448 + 832 B) live together: the lower bound; the rotation of three
        // 448-byte tensors (acc, x, y) around the scratch keeps the scratch from being contiguous at that size, so
        // greedy by size ends at one 448-byte tensor above it
        assertThat(plan.lowerBound()).isEqualTo(448 + 448 + 832);
        assertThat(plan.arenaBytes()).isLessThanOrEqualTo(3 * 448 + 832);
        long afterPlanning = device.allocations();
        long ctxRaw = ctx.rawAllocations();
        for (int r = 0; r < 5; r++) {
            ctx.beginRun();
            assertThat(workload(ctx, 100, 6)).containsExactly(expected);
            ctx.endRun();
        }
        assertThat(device.allocations()).as("device allocations during replay").isEqualTo(afterPlanning);
        assertThat(ctx.rawAllocations()).isEqualTo(ctxRaw);
        PlanStats st = ctx.planner().stats();
        assertThat(st.arenaAllocations()).isEqualTo(1);
        assertThat(st.replayedRuns()).isEqualTo(5);
        assertThat(st.divergentRuns()).isZero();
        assertThat(st.plannedAllocations()).isEqualTo(5L * plan.size());
        assertThat(st.recordedRuns()).isEqualTo(1);
        assertThat(ctx.planner().arena().outstandingBlocks()).isZero();
    }

    @Test
    void shapesChangingHalfWayFallBackAndReportTheDivergence() {
        TensorContext ref = context(AllocationStrategy.REACTIVE);
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        try (PlannedRun run = ctx.run()) {
            workload(ctx, 64, 4);
        }
        // a run of the same length whose second half uses other shapes
        float[] expectedSame = workload(ref, 64, 2);
        float[] expectedOther = workload(ref, 96, 2);
        ctx.beginRun();
        assertThat(workload(ctx, 64, 2)).containsExactly(expectedSame);
        assertThat(workload(ctx, 96, 2)).containsExactly(expectedOther);
        ctx.endRun();
        PlanStats st = ctx.planner().stats();
        assertThat(st.divergentRuns()).isEqualTo(1);
        assertThat(st.lastDivergence()).contains("run 2").contains("[96]").contains("planned");
        assertThat(st.fallbackAllocations()).isGreaterThan(0);
        // the plan is still good for the original workload
        ctx.beginRun();
        workload(ctx, 64, 4);
        ctx.endRun();
        assertThat(ctx.planner().stats().replayedRuns()).isEqualTo(1);
        assertThat(ctx.planner().stats().divergentRuns()).isEqualTo(1);
    }

    @Test
    void moreAndFewerAllocationsThanPlannedAreDivergences() {
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        float[] expected = workload(context(AllocationStrategy.REACTIVE), 32, 5);
        try (PlannedRun run = ctx.run()) {
            workload(ctx, 32, 3);
        }
        ctx.beginRun();
        assertThat(workload(ctx, 32, 5)).containsExactly(expected);
        ctx.endRun();
        assertThat(ctx.planner().stats().lastDivergence()).contains("beyond the 11 planned allocations");
        ctx.beginRun();
        workload(ctx, 32, 2);
        ctx.endRun();
        assertThat(ctx.planner().stats().lastDivergence()).contains("ended after 8 of 11");
        assertThat(ctx.planner().stats().divergentRuns()).isEqualTo(2);
    }

    @Test
    void anEscapedTensorIsNeverOverwritten() {
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        Shape s = Shape.of(16);
        float[] ones = new float[16];
        java.util.Arrays.fill(ones, 1);
        Runnable body = () -> {
            Tensor a = ctx.fromArray(ones, s);
            Tensor b = ctx.fromArray(new float[16], s);
            b.copyFrom(a);
            a.close();
            Tensor c = ctx.full(s, DType.F32, 7);   // planned into a's memory
            c.close();
            b.close();
        };
        try (PlannedRun run = ctx.run()) {
            body.run();
        }
        assertThat(ctx.planner().plan().arenaBytes()).isEqualTo(128);
        // a run in which 'a' escapes (is kept past the run)
        ctx.beginRun();
        Tensor a = ctx.fromArray(ones, s);
        Tensor b = ctx.fromArray(new float[16], s);
        Tensor c = ctx.full(s, DType.F32, 7);         // a is still live: c must not get a's memory
        assertThat(a.toFloatArray()).containsExactly(ones);
        c.close();
        b.close();
        ctx.endRun();
        assertThat(ctx.planner().stats().lastDivergence()).contains("allocation 2").contains("still held");
        // the next run starts while 'a' still holds its slice
        ctx.beginRun();
        body.run();
        ctx.endRun();
        assertThat(ctx.planner().stats().lastDivergence()).contains("run 3").contains("allocation 0");
        assertThat(a.toFloatArray()).containsExactly(ones);
        a.close();
        ctx.beginRun();
        body.run();
        ctx.endRun();
        assertThat(ctx.planner().stats().replayedRuns()).isEqualTo(1);
    }

    @Test
    void replanAdoptsAChangedWorkload() {
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        try (PlannedRun run = ctx.run()) {
            workload(ctx, 32, 2);
        }
        long smallArena = ctx.planner().plan().arenaBytes();
        ctx.planner().replan();
        float[] expected = workload(context(AllocationStrategy.REACTIVE), 200, 2);
        try (PlannedRun run = ctx.run()) {
            assertThat(workload(ctx, 200, 2)).containsExactly(expected);
        }
        assertThat(ctx.planner().plan().arenaBytes()).isGreaterThan(smallArena);
        assertThat(ctx.planner().stats().arenaAllocations()).isEqualTo(2);
        try (PlannedRun run = ctx.run()) {
            assertThat(workload(ctx, 200, 2)).containsExactly(expected);
        }
        assertThat(ctx.planner().stats().replayedRuns()).isEqualTo(1);
        assertThat(ctx.planner().stats().divergentRuns()).isZero();
        // a smaller workload re-planned fits in the same arena: no new device allocation
        ctx.planner().replan();
        try (PlannedRun run = ctx.run()) {
            workload(ctx, 32, 2);
        }
        assertThat(ctx.planner().stats().arenaAllocations()).isEqualTo(2);
    }

    @Test
    void outsideARunThePoolServes() {
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        try (Tensor t = ctx.full(Shape.of(4), DType.F32, 2)) {
            assertThat(t.toFloatArray()).containsExactly(2, 2, 2, 2);
        }
        assertThat(ctx.planner().stats().unplannedAllocations()).isEqualTo(1);
        assertThat(ctx.planner().plan()).isNull();
    }

    @Test
    void runMisuseIsReported() {
        TensorContext ctx = context(AllocationStrategy.PLANNED);
        assertThatThrownBy(ctx::endRun).isInstanceOf(IllegalStateException.class).hasMessageContaining("no run");
        ctx.beginRun();
        assertThatThrownBy(ctx::beginRun).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already in progress");
        ctx.endRun();
    }

    @Test
    void installedPlanIsValidatedAgainstTheRecording() {
        AllocationTrace.Builder rec = new AllocationTrace.Builder();
        int a = rec.allocated(100, 64, Shape.of(25), DType.F32);
        int b = rec.allocated(100, 64, Shape.of(25), DType.F32);
        rec.released(a);
        assertThatThrownBy(() -> rec.released(a)).hasMessageContaining("released twice");
        int c = rec.allocated(400, 64, Shape.of(100), DType.F32);
        rec.released(b);
        rec.released(c);
        AllocationTrace t = rec.build();
        assertThat(t.size()).isEqualTo(3);
        assertThat(t.get(0).firstUse()).isEqualTo(0);
        assertThat(t.get(0).lastUse()).isEqualTo(2);
        assertThat(t.escapedCount()).isZero();
        assertThat(t.lowerBound()).isEqualTo(128 + 448);
        assertThatThrownBy(() -> rec.allocated(1, 64, null, null)).isInstanceOf(IllegalStateException.class);
    }
}
