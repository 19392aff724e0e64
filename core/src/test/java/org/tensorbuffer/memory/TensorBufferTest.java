package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.testing.TestDevice;

class TensorBufferTest {
    private final TestDevice device = new TestDevice();
    private final BufferPool pool = BufferPool.of(device);
    private final TensorBuffer tb = new TensorBuffer(pool, "test");
    private final Shape s = Shape.of(8, 16);

    @Test
    void reserveTakeReturnAndStats() {
        tb.reserve(s, DType.F32, 2);
        assertThat(device.allocations()).isEqualTo(2);
        Block a = tb.take(s, DType.F32);
        Block b = tb.take(s, DType.F32);
        assertThat(a).isNotSameAs(b);
        assertThat(a.capacity()).isEqualTo(512); // exact, not a size class
        Block c = tb.take(s, DType.F32); // all reserved in use -> pool, counted as a miss
        assertThat(c.owner()).isSameAs(pool);
        TensorBufferStats st = tb.stats();
        assertThat(st.requests()).isEqualTo(3);
        assertThat(st.hits()).isEqualTo(2);
        assertThat(st.misses()).isEqualTo(1);
        assertThat(st.liveBytes()).isEqualTo(1024);
        assertThat(st.reservedBytes()).isEqualTo(1024);
        assertThat(st.cachedBytes()).isZero();
        a.close();
        assertThat(tb.take(s, DType.F32)).isSameAs(a); // O(1) from the free list, most recent first
        a.close();
        b.close();
        c.close();
        st = tb.stats();
        assertThat(st.liveBytes()).isZero();
        assertThat(st.peakLiveBytes()).isEqualTo(1024);
        assertThat(st.cachedBytes()).isEqualTo(1024);
        assertThat(st.hitRate()).isEqualTo(0.75);
        assertThat(st.rawAllocations()).isEqualTo(2);
        assertThat(st.shapes()).isEqualTo(1);
        assertThat(st.reservedBlocks()).isEqualTo(2);
    }

    @Test
    void keysAreShapeAndDtype() {
        tb.reserve(s, DType.F32, 1);
        Block other = tb.take(Shape.of(16, 8), DType.F32); // same bytes, other shape: a miss
        Block otherType = tb.take(s, DType.I32); // same shape and bytes, other dtype: a miss
        assertThat(other.owner()).isSameAs(pool);
        assertThat(otherType.owner()).isSameAs(pool);
        assertThat(tb.stats().misses()).isEqualTo(2);
        assertThat(tb.take(s, DType.F32).owner()).isSameAs(tb);
    }

    @Test
    void learnableBuffersAreNeverRecycled() {
        Block w = tb.reserveLearnable("w", s, DType.F32);
        Block view = w.retain(); // a tensor over the weight
        view.release();
        assertThat(w.refCnt()).isEqualTo(1);
        assertThat(w.generation()).isZero(); // not recycled
        tb.reserve(s, DType.F32, 1);
        assertThat(tb.take(s, DType.F32)).isNotSameAs(w);
        assertThat(tb.learnable("w")).isSameAs(w);
        assertThat(tb.stats().learnableBytes()).isEqualTo(512);
        assertThatThrownBy(() -> tb.reserveLearnable("w", s, DType.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'w'");
        tb.clear(); // reserved shapes only
        assertThat(tb.learnable("w")).isSameAs(w);
        long frees = device.frees();
        tb.clearLearnable();
        assertThat(device.frees()).isEqualTo(frees + 1);
        assertThat(tb.learnable("w")).isNull();
        assertThat(tb.stats().learnableBytes()).isZero();
    }

    @Test
    void learnableHeldByATensorIsFreedWhenTheTensorLetsGo() {
        Block w = tb.reserveLearnable("w", s, DType.F32);
        w.retain();
        tb.clearLearnable();
        assertThat(device.liveBuffers()).isEqualTo(1);
        w.release();
        assertThat(device.liveBuffers()).isZero();
    }

    @Test
    void clearFreesFreeBlocksNowAndBusyBlocksOnReturn() {
        tb.reserve(s, DType.F32, 3);
        Block busy = tb.take(s, DType.F32);
        tb.clear();
        assertThat(device.liveBuffers()).isEqualTo(1);
        assertThat(tb.stats().shapes()).isZero();
        busy.close();
        assertThat(device.liveBuffers()).isZero();
        assertThat(tb.take(s, DType.F32).owner()).isSameAs(pool); // no reservation any more
    }

    @Test
    void clearShapeTouchesOneKey() {
        Shape t = Shape.of(3);
        tb.reserve(s, DType.F32, 1);
        tb.reserve(t, DType.F64, 2);
        tb.clearShape(s, DType.F32);
        assertThat(device.liveBuffers()).isEqualTo(2);
        assertThat(tb.take(t, DType.F64).owner()).isSameAs(tb);
        tb.clearShape(Shape.of(99), DType.F32); // nothing reserved: ignored
    }

    @Test
    void badReserveArguments() {
        assertThatThrownBy(() -> tb.reserve(s, DType.F32, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        tb.close();
        assertThatThrownBy(() -> tb.reserve(s, DType.F32, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void reservationBeyondDeviceMemoryThrowsPoolOutOfMemory() {
        TestDevice small = new TestDevice(1024);
        TensorBuffer t = new TensorBuffer(BufferPool.of(small));
        assertThatThrownBy(() -> t.reserve(Shape.of(1024), DType.F32, 1)).isInstanceOf(PoolOutOfMemoryException.class)
                .hasMessageContaining("requested 4096 bytes");
    }

    @Test
    void closeFreesEverything() {
        tb.reserve(s, DType.F32, 2);
        tb.reserveLearnable("w", s, DType.F64);
        tb.close();
        pool.close();
        assertThat(device.liveBuffers()).isZero();
    }
}
