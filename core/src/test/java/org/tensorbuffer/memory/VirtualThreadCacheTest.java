package org.tensorbuffer.memory;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;

/**
 * Virtual threads share a bounded set of thread caches instead of getting one each: with one virtual thread per task
 * the number of caches stays at most {@link BufferPool#virtualThreadCacheLimit()} (before, 2,000 live virtual
 * threads made 2,000 caches), freed blocks are taken again by later virtual threads (no new device allocation), and
 * nothing stays live.
 */
class VirtualThreadCacheTest {
    private static final long KIB = 1024;

    private final TestDevice device = new TestDevice("vthreads");
    private final BufferPool pool = BufferPool.of(device);

    @AfterEach
    void tearDown() {
        pool.close();
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void oneVirtualThreadPerTaskUsesABoundedNumberOfCachesAndReusesBlocks() throws Exception {
        int live = 2000;
        int limit = pool.virtualThreadCacheLimit();
        assertThat(Integer.bitCount(limit)).isEqualTo(1);
        assertThat(limit).isGreaterThanOrEqualTo(2 * Runtime.getRuntime().availableProcessors());

        // 2,000 virtual threads alive at once, each holding a block
        CountDownLatch taken = new CountDownLatch(live);
        CountDownLatch release = new CountDownLatch(1);
        try (ExecutorService vthreads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < live; i++) {
                vthreads.submit(() -> {
                    Block b = pool.take(KIB);
                    taken.countDown();
                    release.await();
                    b.release();
                    return null;
                });
            }
            try {
                assertThat(taken.await(30, SECONDS)).isTrue();
                assertThat(pool.stats().liveBytes()).isEqualTo(live * KIB);
                assertThat(pool.threadCacheCount()).as("thread caches with %d live virtual threads", live)
                        .isBetween(1, limit);
            } finally {
                release.countDown(); // else closing the executor would wait for the threads forever
            }
        }
        PoolStats afterFirst = pool.stats();
        assertThat(afterFirst.liveBytes()).isZero();
        assertThat(afterFirst.rawAllocations()).isEqualTo(live);

        // 10,000 more tasks, each on a new virtual thread: every take is served by a block freed before
        try (ExecutorService vthreads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 10_000; i++) {
                vthreads.submit(() -> pool.take(KIB).release());
            }
        }
        PoolStats ps = pool.stats();
        assertThat(ps.liveBytes()).isZero();
        assertThat(ps.requests()).isEqualTo(live + 10_000L);
        assertThat(ps.rawAllocations()).as("device allocations after the first 2,000").isEqualTo(live);
        assertThat(ps.hits()).isEqualTo(10_000L);
        assertThat(pool.threadCacheCount()).isBetween(1, limit);
    }

    @Test
    void blocksMoveBetweenVirtualAndPlatformThreadsAndEmptyCacheWorksOnBoth() throws Exception {
        AtomicReference<Block> handed = new AtomicReference<>();
        Thread v = Thread.ofVirtual().start(() -> handed.set(pool.take(4 * KIB)));
        v.join();
        handed.get().release(); // taken on a virtual thread, released here (a platform thread)
        Block again = pool.take(4 * KIB);
        assertThat(again).as("reused by the platform thread").isSameAs(handed.get());
        try (ExecutorService vthreads = Executors.newVirtualThreadPerTaskExecutor()) {
            vthreads.submit(again::release).get(); // taken here, released on a virtual thread
            Future<Block> reused = vthreads.submit(() -> pool.take(4 * KIB));
            Block b = reused.get();
            assertThat(b.capacity()).isEqualTo(4 * KIB);
            b.release();
            vthreads.submit(pool::emptyCache).get();
        }
        pool.emptyCache();
        PoolStats ps = pool.stats();
        assertThat(ps.liveBytes()).isZero();
        assertThat(ps.rawAllocations()).isLessThanOrEqualTo(2);
        assertThat(ps.cachedBytes()).as("after emptyCache on both kinds of thread").isLessThanOrEqualTo(4 * KIB);
    }
}
