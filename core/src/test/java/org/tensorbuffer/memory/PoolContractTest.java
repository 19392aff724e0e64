package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Device;

/**
 * The contract every device's pools must keep, shared by the backends' test suites: subclass it and return the
 * device (skip with an assumption when it is unavailable).
 */
public abstract class PoolContractTest {

    /** The device under test. */
    protected abstract Device device();

    @Test
    void releasedBlockIsTakenAgainAndKeepsItsData() {
        try (BufferPool pool = BufferPool.of(device())) {
            Block a = pool.take(1000);
            assertThat(a.capacity()).isEqualTo(1024);
            float[] data = new float[250];
            for (int i = 0; i < data.length; i++) {
                data[i] = i * 0.5f;
            }
            device().copyFromHost(MemorySegment.ofArray(data), 0, a.buffer(), 0, 1000);
            a.close();
            Block b = pool.take(900); // same size class
            assertThat(b).isSameAs(a);
            float[] back = new float[250];
            device().copyToHost(b.buffer(), 0, MemorySegment.ofArray(back), 0, 1000);
            assertThat(back).containsExactly(data);
            b.close();
            PoolStats s = pool.stats();
            assertThat(s.requests()).isEqualTo(2);
            assertThat(s.hits()).isEqualTo(1);
            assertThat(s.misses()).isEqualTo(1);
            assertThat(s.rawAllocations()).isEqualTo(1);
            assertThat(s.liveBytes()).isZero();
            assertThat(s.cachedBytes()).isEqualTo(1024);
        }
    }

    @Test
    void tensorBufferServesReservedShapesAndFallsBackOnAMiss() {
        try (TensorContext ctx = TensorContext.create(device(), AllocationStrategy.PROACTIVE)) {
            Shape shape = Shape.of(4, 8);
            ctx.tensorBuffer().reserve(shape, DType.F32, 2);
            Tensor a = ctx.ones(shape, DType.F32);
            Tensor b = ctx.full(shape, DType.F32, 3);
            Tensor c = ctx.zeros(shape, DType.F32); // third: reservations exhausted -> pool
            assertThat(ctx.tensorBuffer().stats().hits()).isEqualTo(2);
            assertThat(ctx.tensorBuffer().stats().misses()).isEqualTo(1);
            assertThat(ctx.pool().stats().requests()).isEqualTo(1);
            assertThat(a.toFloatArray()).containsOnly(1f);
            assertThat(b.toFloatArray()).containsOnly(3f);
            assertThat(c.toFloatArray()).containsOnly(0f);
            a.close();
            b.close();
            c.close();
            Tensor d = ctx.empty(shape, DType.F32);
            assertThat(ctx.tensorBuffer().stats().hits()).isEqualTo(3);
            d.close();
            assertThat(ctx.tensorBuffer().stats().liveBytes()).isZero();
            assertThat(ctx.pool().stats().liveBytes()).isZero();
        }
    }

    @Test
    void everyStrategyGivesTheSameValues() {
        for (AllocationStrategy s : new AllocationStrategy[] {AllocationStrategy.NONE, AllocationStrategy.REACTIVE,
                AllocationStrategy.PROACTIVE}) {
            try (TensorContext ctx = TensorContext.create(device(), s);
                 Tensor t = ctx.fromArray(new double[] {1, 2, 3, 4, 5, 6}, Shape.of(2, 3));
                 Tensor r = t.reshape(3, 2);
                 Tensor row = r.row(2)) {
                assertThat(row.toDoubleArray()).as("strategy %s", s).containsExactly(5, 6);
            }
        }
    }

    @Test
    void zeroSizedTensorsWork() {
        try (TensorContext ctx = TensorContext.create(device(), AllocationStrategy.REACTIVE);
             Tensor t = ctx.zeros(Shape.of(3, 0), DType.F32)) {
            assertThat(t.toFloatArray()).isEmpty();
            assertThat(t.byteSize()).isZero();
        }
    }

    @Test
    void doubleCloseAndUseAfterCloseAreDetected() {
        try (TensorContext ctx = TensorContext.create(device(), AllocationStrategy.REACTIVE)) {
            Tensor t = ctx.zeros(Shape.of(16), DType.F32);
            t.close();
            assertThatThrownBy(t::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("double close");
            assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }
}
