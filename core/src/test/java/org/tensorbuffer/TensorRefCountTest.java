package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.IllegalReferenceCountException;
import org.tensorbuffer.memory.UseAfterRecycleException;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class TensorRefCountTest {
    private TestDevice device;
    private TensorContext ctx;

    @BeforeEach
    void setUp() {
        device = new TestDevice("fake");
        ctx = TensorContext.create(device, AllocationStrategy.REACTIVE);
    }

    @AfterEach
    void tearDown() {
        ctx.close();
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void retainAndReleaseCountReferences() {
        Tensor t = ctx.arange(0, 6, 1, DType.F32);
        assertThat(t.refCnt()).isEqualTo(1);
        assertThat(t.retain()).isSameAs(t);
        assertThat(t.refCnt()).isEqualTo(2);
        assertThat(t.release()).isFalse();
        assertThat(t.isClosed()).isFalse();
        assertThat(t.toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(t.release()).isTrue();
        assertThat(t.isClosed()).isTrue();
        assertThat(ctx.pool().stats().liveBytes()).isZero();
    }

    @Test
    void viewsShareTheBlockAndTheLastOneReturnsIt() {
        Tensor t = ctx.arange(0, 6, 1, DType.F32);
        Block b = t.block();
        Tensor m = t.reshape(2, 3);
        Tensor s = m.slice(1, 2);
        Tensor r = m.row(1);
        assertThat(b.refCnt()).isEqualTo(4);
        assertThat(s.toFloatArray()).containsExactly(3, 4, 5);
        assertThat(r.shape()).isEqualTo(Shape.of(3));
        assertThat(r.toFloatArray()).containsExactly(3, 4, 5);
        t.close();
        m.close();
        assertThat(b.refCnt()).isEqualTo(2);
        assertThat(ctx.pool().stats().liveBytes()).isEqualTo(64);
        assertThat(r.toFloatArray()).containsExactly(3, 4, 5); // still valid: s and r hold the block
        s.close();
        r.close();
        assertThat(b.refCnt()).isZero();
        assertThat(ctx.pool().stats().liveBytes()).isZero();
    }

    @Test
    void releasingPastZeroNamesTheTensor() {
        Tensor t = ctx.zeros(Shape.of(2, 2), DType.F32);
        t.release();
        assertThatThrownBy(t::release).isInstanceOf(IllegalReferenceCountException.class)
                .hasMessageContaining("release of Tensor[2, 2] float32 on fake (closed) with reference count 0");
        assertThatThrownBy(t::retain).isInstanceOf(IllegalReferenceCountException.class)
                .hasMessageContaining("retain of Tensor[2, 2] float32 on fake (closed)");
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> t.reshape(4)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void blockReleasedBehindATensorsBackIsDetected() {
        Tensor t = ctx.zeros(Shape.of(4), DType.F32);
        t.block().release(); // a bug elsewhere gives the block back
        Tensor other = ctx.zeros(Shape.of(4), DType.F32); // probably the same block, recycled
        assertThatThrownBy(t::toFloatArray).isInstanceOf(UseAfterRecycleException.class)
                .hasMessageContaining("Tensor[4] float32").hasMessageContaining("used after its buffer was recycled");
        other.close();
    }

    @Test
    void blockReleaseBeyondZeroIsRefused() {
        Block b = ctx.pool().take(100);
        b.release();
        assertThatThrownBy(b::release).isInstanceOf(IllegalReferenceCountException.class)
                .hasMessageContaining("reference count 0");
    }
}
