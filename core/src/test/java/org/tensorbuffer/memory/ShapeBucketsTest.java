package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class ShapeBucketsTest {
    private final TestDevice device = new TestDevice();

    @Test
    void powersOfTwoEndAtTheMaximum() {
        assertThat(ShapeBuckets.powersOfTwo(200).sizes()).containsExactly(1, 2, 4, 8, 16, 32, 64, 128, 200);
        assertThat(ShapeBuckets.powersOfTwo(64).sizes()).containsExactly(1, 2, 4, 8, 16, 32, 64);
        assertThat(ShapeBuckets.powersOfTwo(1).sizes()).containsExactly(1);
        ShapeBuckets b = ShapeBuckets.powersOfTwo(200);
        assertThat(b.bucket(1)).isEqualTo(1);
        assertThat(b.bucket(3)).isEqualTo(4);
        assertThat(b.bucket(64)).isEqualTo(64);
        assertThat(b.bucket(65)).isEqualTo(128);
        assertThat(b.bucket(129)).isEqualTo(200);
        assertThat(b.bucket(201)).as("beyond the last bucket: exact").isEqualTo(201);
        assertThat(b.bucketOf(Shape.of(37, 288))).isEqualTo(Shape.of(64, 288));
        assertThat(b.bucketOf(Shape.of(37))).as("rank 1 is never bucketed").isEqualTo(Shape.of(37));
        assertThat(b.bucketOf(Shape.of(3, 5, 7))).isEqualTo(Shape.of(4, 5, 7));
        assertThat(ShapeBuckets.of(10, 100).bucket(11)).isEqualTo(100);
        assertThatThrownBy(() -> ShapeBuckets.powersOfTwo(0)).hasMessageContaining(">= 1");
        assertThatThrownBy(() -> ShapeBuckets.of(4, 4)).hasMessageContaining("increasing");
        assertThatThrownBy(() -> ShapeBuckets.of()).hasMessageContaining("no bucket");
    }

    @Test
    void aTensorOfTheExactShapeIsAViewOverItsBucketsReservedBlock() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.PROACTIVE)) {
            ctx.shapeBuckets(ShapeBuckets.powersOfTwo(64));
            ctx.tensorBuffer().reserve(Shape.of(32, 8), DType.F32, 1);
            ctx.tensorBuffer().reserve(Shape.of(6, 8), DType.F32, 1); // an exact reservation wins over its bucket
            assertThat(ctx.tensorBuffer().reservedCount(Shape.of(32, 8), DType.F32)).isEqualTo(1);
            assertThat(ctx.tensorBuffer().reservedCount(Shape.of(31, 8), DType.F32)).isZero();
            long allocs = ctx.rawAllocations();
            for (int t : new int[] {17, 20, 31, 32}) {
                float[] data = new float[t * 8];
                for (int i = 0; i < data.length; i++) {
                    data[i] = i;
                }
                try (Tensor a = ctx.fromArray(data, Shape.of(t, 8))) {
                    assertThat(a.shape()).isEqualTo(Shape.of(t, 8));
                    assertThat(a.block().capacity()).isEqualTo(32L * 8 * 4);
                    assertThat(a.toFloatArray()).containsExactly(data);
                }
            }
            try (Tensor e = ctx.empty(Shape.of(6, 8), DType.F32)) {
                assertThat(e.block().capacity()).isEqualTo(6L * 8 * 4);
            }
            assertThat(ctx.rawAllocations()).isEqualTo(allocs);
            TensorBufferStats s = ctx.tensorBuffer().stats();
            assertThat(s.hits()).isEqualTo(5);
            assertThat(s.misses()).isZero();
            // a bucket without a reservation misses to the pool, with the bucket's size
            try (Tensor m = ctx.empty(Shape.of(9, 8), DType.F32)) {
                assertThat(m.block().capacity()).isGreaterThanOrEqualTo(16L * 8 * 4);
            }
            assertThat(ctx.tensorBuffer().stats().misses()).isEqualTo(1);
            ctx.shapeBuckets(null);
            assertThat(ctx.shapeBuckets()).isNull();
        }
    }
}
