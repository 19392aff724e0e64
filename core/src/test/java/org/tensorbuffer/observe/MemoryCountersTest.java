package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** {@link MemoryCounters} against figures known by construction, single-threaded and under threads. */
class MemoryCountersTest {
    private static final long MIB = 1 << 20;

    @Test
    void figuresFollowTorchsDefinitions() {
        try (BufferPool pool = BufferPool.builder(new TestDevice("counters")).build()) {
            Block small = pool.take(64);
            Block large = pool.take(4 * MIB);
            assertThat(small.capacity()).isEqualTo(64);
            assertThat(large.capacity()).isEqualTo(4 * MIB);
            MemoryCounters c = new MemoryCounters();
            c.allocated(small, 60, Shape.of(15), DType.F32, null);
            c.allocated(large, 4 * MIB - 8, Shape.of(MIB - 2), DType.F32, null);
            c.allocated(small, 64, Shape.of(16), DType.F32, null);
            c.freed(small, 0, 60);
            assertThat(c.get("allocation", "all", "current")).isEqualTo(2);
            assertThat(c.get("allocation", "all", "peak")).isEqualTo(3);
            assertThat(c.get("allocation", "small_pool", "peak")).isEqualTo(2);
            assertThat(c.get("allocation", "large_pool", "current")).isEqualTo(1);
            assertThat(c.get("active", "all", "allocated")).isEqualTo(3);
            assertThat(c.get("active", "all", "freed")).isEqualTo(1);
            assertThat(c.get("allocated_bytes", "all", "peak")).isEqualTo(4 * MIB + 128);
            assertThat(c.get("allocated_bytes", "all", "current")).isEqualTo(4 * MIB + 64);
            assertThat(c.get("allocated_bytes", "small_pool", "freed")).isEqualTo(64);
            assertThat(c.get("requested_bytes", "all", "peak")).isEqualTo(4 * MIB - 8 + 124);
            assertThat(c.get("requested_bytes", "large_pool", "allocated")).isEqualTo(4 * MIB - 8);
            assertThat(c.get("inactive_split_bytes", "all", "peak")).isZero();
            c.resetPeaks();
            assertThat(c.get("allocated_bytes", "all", "peak")).isEqualTo(4 * MIB + 64);
            assertThat(c.get("allocation", "all", "peak")).isEqualTo(2);
            c.resetAccumulated();
            assertThat(c.get("allocation", "all", "allocated")).isZero();
            assertThat(c.get("allocation", "all", "freed")).isZero();
            c.freed(large, 0, 4 * MIB - 8);
            c.freed(small, 0, 64);
            assertThat(c.get("allocation", "all", "freed")).isEqualTo(2);
            assertThat(c.get("allocated_bytes", "all", "current")).isZero();
            assertThat(c.get("allocated_bytes", "large_pool", "freed")).isEqualTo(4 * MIB);
            assertThat(c.get("allocated_bytes", "all", "peak")).isEqualTo(4 * MIB + 64);
            small.close();
            large.close();
        }
    }

    /**
     * Four threads each hold a 2 MiB block at one moment (a barrier), release it, and then (after a second barrier)
     * allocate and free 64-byte blocks many times: the true peak is exactly 4 x 2 MiB and 4 large blocks, and every
     * total balances. A peak kept without a compare-and-set, or a lost update, fails this.
     */
    @Test
    void peaksAreExactUnderThreads() throws Exception {
        int threads = 4;
        int rounds = 200_000;
        try (BufferPool pool = BufferPool.builder(new TestDevice("counters-mt")).build()) {
            Block small = pool.take(64);
            Block large = pool.take(2 * MIB);
            assertThat(small.capacity()).isEqualTo(64);
            assertThat(large.capacity()).isEqualTo(2 * MIB);
            MemoryCounters c = new MemoryCounters();
            CyclicBarrier barrier = new CyclicBarrier(threads);
            List<Thread> ts = new ArrayList<>();
            List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int t = 0; t < threads; t++) {
                ts.add(Thread.ofPlatform().start(() -> {
                    try {
                        c.allocated(large, 2 * MIB, Shape.of(MIB / 2), DType.F32, null);
                        barrier.await(30, TimeUnit.SECONDS);
                        c.freed(large, 0, 2 * MIB);
                        barrier.await(30, TimeUnit.SECONDS);
                        for (int i = 0; i < rounds; i++) {
                            c.allocated(small, 64, Shape.of(16), DType.F32, null);
                            c.freed(small, 0, 64);
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            assertThat(errors).isEmpty();
            assertThat(c.get("allocated_bytes", "all", "peak")).isEqualTo(threads * 2 * MIB);
            assertThat(c.get("allocated_bytes", "large_pool", "peak")).isEqualTo(threads * 2 * MIB);
            assertThat(c.get("allocated_bytes", "small_pool", "peak")).isBetween(64L, threads * 64L);
            assertThat(c.get("allocation", "all", "peak")).isEqualTo(threads);
            assertThat(c.get("allocation", "large_pool", "peak")).isEqualTo(threads);
            assertThat(c.get("allocation", "all", "current")).isZero();
            assertThat(c.get("allocated_bytes", "all", "current")).isZero();
            assertThat(c.get("requested_bytes", "all", "current")).isZero();
            long n = (long) threads * (rounds + 1);
            assertThat(c.get("allocation", "all", "allocated")).isEqualTo(n);
            assertThat(c.get("allocation", "all", "freed")).isEqualTo(n);
            assertThat(c.get("allocated_bytes", "small_pool", "allocated")).isEqualTo(threads * rounds * 64L);
            assertThat(c.get("allocated_bytes", "all", "freed")).isEqualTo(threads * (rounds * 64L + 2 * MIB));
            small.close();
            large.close();
        }
    }
}
