package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.testing.TestDevice;

/** A device with an artificial 1 MiB limit: the pool evicts its cache and retries, then fails clearly, and leaks nothing. */
class OutOfMemoryTest {
    private static final long MIB = 1 << 20;

    @Test
    void poolEvictsCachedBlocksAndRetriesThenFailsClearlyAndLeaksNothing() {
        TestDevice dev = new TestDevice("oomdev", MIB);
        BufferPool pool = BufferPool.builder(dev).name("oom").maxCachedBytes(MIB).build();
        Block a = pool.take(256 << 10);
        Block b = pool.take(256 << 10);
        Block c = pool.take(256 << 10);
        a.release();
        b.release();
        c.release();
        assertThat(pool.stats().cachedBytes()).isEqualTo(768 << 10);

        // 600 000 B rounds to the 640 KiB class: 768 KiB cached + 640 KiB > 1 MiB, so the device refuses once;
        // the pool frees its cache and the retry succeeds.
        Block big = pool.take(600_000);
        PoolStats s = pool.stats();
        assertThat(big.capacity()).isEqualTo(655_360);
        assertThat(s.allocRetries()).isEqualTo(1);
        assertThat(s.evictions()).isEqualTo(3);
        assertThat(s.reservedBytes()).isEqualTo(655_360);
        assertThat(s.ooms()).isZero();

        // Past the limit: a clear exception with the figures, the device's error as the cause.
        assertThatThrownBy(() -> pool.take(600_000)).isInstanceOf(PoolOutOfMemoryException.class)
                .hasMessage("BufferPool[oomdev/oom] out of memory: requested 655360 bytes, live 655360 bytes, "
                        + "cached 0 bytes, limit 1048576 bytes")
                .hasCauseInstanceOf(DeviceOutOfMemoryException.class)
                .satisfies(e -> {
                    PoolOutOfMemoryException p = (PoolOutOfMemoryException) e;
                    assertThat(p.requestedBytes()).isEqualTo(655_360);
                    assertThat(p.liveBytes()).isEqualTo(655_360);
                    assertThat(p.limitBytes()).isEqualTo(MIB);
                });
        s = pool.stats();
        assertThat(s.ooms()).isEqualTo(1);
        assertThat(s.allocRetries()).isEqualTo(2);
        assertThat(s.liveBytes()).isEqualTo(655_360);
        assertThat(dev.usedBytes()).isEqualTo(655_360);

        // Smaller requests still work after the failure.
        Block small = pool.take(1000);
        small.release();
        big.release();
        assertThat(pool.stats().liveBytes()).isZero();
        assertThat(pool.outstandingBlocks()).isEmpty();
        pool.close();
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void tensorAllocationPastTheLimitFailsInsideAScopeAndTheScopeStillCleansUp() {
        TestDevice dev = new TestDevice("oomctx", MIB);
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE)) {
            try (MemoryScope scope = MemoryScope.open()) {
                Tensor keep = ctx.zeros(Shape.of(100_000), DType.F32); // 400 000 B -> 458 752 B class
                assertThat(keep.byteSize()).isEqualTo(400_000);
                assertThatThrownBy(() -> ctx.zeros(Shape.of(200_000), DType.F32))
                        .isInstanceOf(PoolOutOfMemoryException.class)
                        .hasMessageContaining("requested 917504 bytes").hasMessageContaining("limit 1048576 bytes");
                assertThat(scope.tensorCount()).isEqualTo(1);
            }
            assertThat(ctx.pool().stats().liveBytes()).isZero();
            assertThat(ctx.memoryStats().get("num_ooms")).isEqualTo(1);
            assertThat(ctx.memoryStats().get("num_alloc_retries")).isEqualTo(1);
        }
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void tensorBufferReservationPastTheLimitFailsClearly() {
        TestDevice dev = new TestDevice("oomtb", MIB);
        BufferPool pool = BufferPool.of(dev);
        TensorBuffer tb = new TensorBuffer(pool, "tb");
        tb.reserve(Shape.of(768, 256), DType.F32, 1); // 768 KiB
        assertThatThrownBy(() -> tb.reserve(Shape.of(768, 256), DType.F32, 1))
                .isInstanceOf(PoolOutOfMemoryException.class)
                .hasMessage("TensorBuffer[oomtb/tb] out of memory: requested 786432 bytes, live 0 bytes, cached "
                        + "786432 bytes, limit 1048576 bytes");
        tb.close();
        pool.close();
        assertThat(dev.usedBytes()).isZero();
    }
}
