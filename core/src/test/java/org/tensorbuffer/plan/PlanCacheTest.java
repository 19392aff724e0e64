package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.ShapeBuckets;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class PlanCacheTest {
    private final TestDevice device = new TestDevice();

    /** A run whose shapes depend on {@code t}: three live tensors of [t, 16], then [t, 4] (the test device has no
     * kernels, so data only moves to and from the host). */
    private static float run(TensorContext ctx, int t) {
        float[] ones = new float[t * 16];
        java.util.Arrays.fill(ones, 1f);
        float[] halves = new float[t * 4];
        java.util.Arrays.fill(halves, 0.5f);
        try (Tensor a = ctx.fromArray(ones, Shape.of(t, 16));
             Tensor b = ctx.empty(Shape.of(t, 16), DType.F32);
             Tensor c = ctx.fromArray(ones, Shape.of(t, 16));
             Tensor d = ctx.fromArray(halves, Shape.of(t, 4))) {
            return 3 * c.toFloatArray()[t * 16 - 1] + d.toFloatArray()[0] + 0 * b.elementCount();
        }
    }

    @Test
    void eachSignatureIsRecordedOnceAndReplayedAfterwards() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.PLANNED)) {
            PlanCache cache = new PlanCache(ctx.planner());
            int[] ts = {5, 9, 5, 9, 3, 5, 3, 9};
            for (int t : ts) {
                try (PlanCache.Run r = cache.run("t" + t)) {
                    assertThat(run(ctx, t)).isEqualTo(3.5f);
                }
            }
            assertThat(cache.size()).isEqualTo(3);
            assertThat(cache.misses()).isEqualTo(3);
            assertThat(cache.hits()).isEqualTo(5);
            PlanStats s = ctx.planner().stats();
            assertThat(s.recordedRuns()).isEqualTo(3);
            assertThat(s.replayedRuns()).isEqualTo(5);
            assertThat(s.divergentRuns()).isZero();
            assertThat(s.plannedAllocations()).isEqualTo(5 * 4);
            long al = ctx.planner().alignment();
            long small = (9 * 4 * 4 + al - 1) / al * al; // records are aligned (576 is already)
            assertThat(cache.plan("t9").lowerBound()).isEqualTo(3L * 9 * 16 * 4 + small);
            // the arena grew to the largest plan and was reused for the smaller ones
            long arenas = s.arenaAllocations();
            for (int t : new int[] {3, 5, 9}) {
                try (PlanCache.Run r = cache.run("t" + t)) {
                    run(ctx, t);
                }
            }
            assertThat(ctx.planner().stats().arenaAllocations()).isEqualTo(arenas);
            assertThat(ctx.planner().stats().plannedAllocations()).isEqualTo(8 * 4);
        }
    }

    @Test
    void aDivergingRunFallsBackAndARunInProgressIsRefused() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.PLANNED)) {
            PlanCache cache = new PlanCache(ctx.planner());
            try (PlanCache.Run r = cache.run("x")) {
                run(ctx, 4);
            }
            try (PlanCache.Run r = cache.run("x")) {
                assertThat(run(ctx, 6)).as("same signature, other shapes: correct via the fallback").isEqualTo(3.5f);
                assertThatThrownBy(() -> cache.run("y")).isInstanceOf(IllegalStateException.class);
            }
            assertThat(ctx.planner().stats().divergentRuns()).isEqualTo(1);
        }
    }

    @Test
    void bucketedRunsShareOnePlanPerBucketAndFitEveryLengthInIt() {
        ShapeBuckets buckets = ShapeBuckets.powersOfTwo(16); // 1, 2, 4, 8, 16
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.PLANNED)) {
            PlanCache cache = new PlanCache(ctx.planner());
            int[] ts = {5, 8, 6, 7, 12, 9, 16, 13};
            for (int t : ts) {
                try (PlanCache.Run r = cache.run("b" + buckets.bucket(t), buckets)) {
                    assertThat(run(ctx, t)).as("t=%d", t).isEqualTo(3.5f);
                }
            }
            assertThat(cache.size()).isEqualTo(2); // buckets 8 and 16
            assertThat(cache.misses()).isEqualTo(2);
            PlanStats s = ctx.planner().stats();
            assertThat(s.divergentRuns()).as(s.lastDivergence()).isZero();
            assertThat(s.replayedRuns()).isEqualTo(6);
            // the plan holds the bucket's shapes: three [8, 16] and one [8, 4], whatever t recorded it (5)
            MemoryPlan p8 = cache.plan("b8");
            assertThat(p8.trace().records()).extracting(AllocationRecord::shape)
                    .containsExactly(Shape.of(8, 16), Shape.of(8, 16), Shape.of(8, 16), Shape.of(8, 4));
            // outside a bucketed run shapes are exact again
            try (PlanCache.Run r = cache.run("exact5")) {
                run(ctx, 5);
            }
            assertThat(cache.plan("exact5").trace().records().getFirst().shape()).isEqualTo(Shape.of(5, 16));
        }
    }

    @Test
    void aPlanMadeAheadFromATraceIsReplayedByTheFirstRun() {
        ShapeBuckets buckets = ShapeBuckets.powersOfTwo(16);
        AllocationTrace trace;
        try (TensorContext other = TensorContext.create(new TestDevice(), AllocationStrategy.PLANNED)) {
            try (PlanCache.Run r = new PlanCache(other.planner()).run("b16", buckets)) {
                run(other, 13);
            }
            trace = other.planner().lastTrace();
        }
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.PLANNED)) {
            PlanCache cache = new PlanCache(ctx.planner());
            MemoryPlan plan = ctx.planner().planFor(trace.withAlignment(256));
            assertThat(plan.alignment()).isEqualTo(256);
            assertThat(plan.trace().records()).allSatisfy(rec -> assertThat(rec.alignment()).isEqualTo(256));
            cache.put("b16", ctx.planner().planFor(trace));
            long arenasBefore = ctx.planner().stats().arenaAllocations();
            for (int t : new int[] {11, 16, 9}) {
                try (PlanCache.Run r = cache.run("b" + buckets.bucket(t), buckets)) {
                    assertThat(run(ctx, t)).isEqualTo(3.5f);
                }
            }
            PlanStats s = ctx.planner().stats();
            assertThat(cache.misses()).isZero();
            assertThat(s.recordedRuns()).isZero();
            assertThat(s.replayedRuns()).isEqualTo(3);
            assertThat(s.fallbackAllocations()).isZero();
            assertThat(s.arenaAllocations()).isEqualTo(arenasBefore + 1); // one arena, on the first run's install
            assertThatThrownBy(() -> trace.withAlignment(48)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
