package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.UseAfterRecycleException;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class TensorLifecycleTest {
    private final TestDevice device = new TestDevice();

    @Test
    void factoriesFillValues() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            try (Tensor z = ctx.zeros(Shape.of(2, 2), DType.F64);
                 Tensor o = ctx.ones(Shape.of(3), DType.F32);
                 Tensor f = ctx.full(Shape.of(2), DType.I32, 7);
                 Tensor a = ctx.arange(0, 5, 1, DType.F32);
                 Tensor a2 = ctx.arange(1, 0, -0.25, DType.F64);
                 Tensor l = ctx.fromArray(new long[] {1, -2}, Shape.of(2))) {
                assertThat(z.toDoubleArray()).containsExactly(0, 0, 0, 0);
                assertThat(o.toFloatArray()).containsExactly(1, 1, 1);
                assertThat(f.toIntArray()).containsExactly(7, 7);
                assertThat(a.toFloatArray()).containsExactly(0, 1, 2, 3, 4);
                assertThat(a2.toDoubleArray()).containsExactly(1, 0.75, 0.5, 0.25);
                assertThat(l.toLongArray()).containsExactly(1, -2);
                assertThatThrownBy(o::item).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("item()");
            }
            try (Tensor s = ctx.full(Shape.scalar(), DType.F64, 2.5)) {
                assertThat(s.item()).isEqualTo(2.5);
            }
        }
    }

    @Test
    void badFactoryInput() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            assertThatThrownBy(() -> ctx.fromArray(new float[3], Shape.of(2, 2)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 elements")
                    .hasMessageContaining("[2, 2]");
            assertThatThrownBy(() -> ctx.arange(0, 1, 0, DType.F32)).hasMessageContaining("step");
            assertThatThrownBy(() -> ctx.zeros(Shape.of(-1), DType.F32)).hasMessageContaining("negative");
        }
    }

    @Test
    void strategiesRouteAllocations() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.NONE)) {
            long before = device.allocations();
            ctx.zeros(Shape.of(4), DType.F32).close();
            ctx.zeros(Shape.of(4), DType.F32).close();
            assertThat(device.allocations() - before).isEqualTo(2);
            assertThat(ctx.raw().rawAllocations()).isEqualTo(2);
            assertThat(ctx.raw().liveBytes()).isZero();

            ctx.strategy(AllocationStrategy.REACTIVE);
            ctx.zeros(Shape.of(4), DType.F32).close();
            ctx.zeros(Shape.of(4), DType.F32).close();
            assertThat(ctx.pool().stats().hits()).isEqualTo(1);

            ctx.strategy(AllocationStrategy.PROACTIVE);
            ctx.tensorBuffer().reserve(Shape.of(4), DType.F32, 1);
            ctx.zeros(Shape.of(4), DType.F32).close();
            assertThat(ctx.tensorBuffer().stats().hits()).isEqualTo(1);
            assertThat(ctx.rawAllocations()).isEqualTo(2 + 1 + 1);

            ctx.strategy(AllocationStrategy.PLANNED);
            ctx.zeros(Shape.of(4), DType.F32).close();          // outside a run: the pool
            assertThat(ctx.planner().stats().unplannedAllocations()).isEqualTo(1);
            ctx.beginRun();                                      // first run: recorded
            ctx.zeros(Shape.of(4), DType.F32).close();
            ctx.endRun();                                        // plan + arena
            ctx.beginRun();
            ctx.zeros(Shape.of(4), DType.F32).close();           // replayed from the arena
            ctx.endRun();
            assertThat(ctx.planner().stats().plannedAllocations()).isEqualTo(1);
            assertThat(ctx.rawAllocations()).isEqualTo(2 + 1 + 1 + 1);
        }
    }

    @Test
    void viewsShareTheBlockUntilTheLastIsClosed() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            Tensor t = ctx.fromArray(new float[] {1, 2, 3, 4, 5, 6}, Shape.of(3, 2));
            Tensor v = t.reshape(2, 3);
            Tensor r = t.row(1);
            Tensor s = t.slice(1, 3);
            Block b = t.block();
            assertThat(b.refCnt()).isEqualTo(4);
            t.close();
            assertThat(v.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(r.toFloatArray()).containsExactly(3, 4);
            assertThat(r.shape()).isEqualTo(Shape.of(2));
            assertThat(s.toFloatArray()).containsExactly(3, 4, 5, 6);
            v.close();
            r.close();
            assertThat(ctx.pool().stats().liveBytes()).isPositive();
            s.close();
            assertThat(ctx.pool().stats().liveBytes()).isZero();
            assertThatThrownBy(() -> t.reshape(4, 2)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void badViews() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE);
             Tensor t = ctx.zeros(Shape.of(3, 2), DType.F32)) {
            assertThatThrownBy(() -> t.reshape(4, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[3, 2]").hasMessageContaining("[4, 2]");
            assertThatThrownBy(() -> t.slice(2, 4)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(t::toDoubleArray).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("float64");
        }
    }

    @Test
    void useAfterRecycleIsDetected() {
        try (TensorContext ctx = TensorContext.create(device, AllocationStrategy.REACTIVE)) {
            Tensor t = ctx.zeros(Shape.of(16), DType.F32);
            Block b = t.block();
            b.release(); // a bug elsewhere gives the buffer back behind the tensor's back
            Tensor other = ctx.ones(Shape.of(16), DType.F32); // and someone else gets it
            assertThat(other.block()).isSameAs(b);
            assertThatThrownBy(t::toFloatArray).isInstanceOf(UseAfterRecycleException.class)
                    .hasMessageContaining("recycled");
            assertThatThrownBy(t::close).isInstanceOf(UseAfterRecycleException.class);
            other.close();
        }
    }
}
