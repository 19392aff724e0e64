package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Free reserved blocks in the per-thread magazines of <em>other live threads</em> at {@link TensorBuffer#clear()},
 * {@link TensorBuffer#clearShape} and {@link TensorBuffer#close()} (the device bytes the 8-thread stress of issue 15
 * left behind): they must go back to the device at once, a release racing with the clear must neither lose its block
 * nor free one twice, and a take must never hand out a block that the clear freed.
 */
class TensorBufferReclaimTest {
    private final Shape s = Shape.of(8, 16); // 512 B in F32

    /** A thread that takes and releases {@code n} blocks of the key (they end in its magazine), then waits. */
    private static final class Holder extends Thread {
        final CountDownLatch filled = new CountDownLatch(1);
        final CountDownLatch resume = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicReference<Runnable> afterResume = new AtomicReference<>(() -> { });

        Holder(TensorBuffer tb, Shape s, int n) {
            super("holder");
            this.tb = tb;
            this.shape = s;
            this.n = n;
        }

        private final TensorBuffer tb;
        private final Shape shape;
        private final int n;

        @Override
        public void run() {
            try {
                Block[] got = new Block[n];
                for (int i = 0; i < n; i++) {
                    got[i] = tb.take(shape, DType.F32);
                }
                for (Block b : got) {
                    b.release(); // the taker's own release: into its magazine
                }
                filled.countDown();
                await(resume); // stays alive: its magazine is never reaped as a dead thread's
                afterResume.get().run();
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                filled.countDown();
            }
        }
    }

    @Test
    void closeFreesFreeBlocksInTheMagazinesOfOtherLiveThreads() throws Exception {
        TestDevice device = new TestDevice("reclaim-close");
        BufferPool pool = BufferPool.of(device);
        TensorBuffer tb = new TensorBuffer(pool, "reclaim");
        tb.reserve(s, DType.F32, 4);
        Holder a = new Holder(tb, s, 3);
        AtomicReference<Throwable> takeAfterClose = new AtomicReference<>();
        a.afterResume.set(() -> {
            try {
                tb.take(s, DType.F32).release();
            } catch (IllegalStateException e) {
                takeAfterClose.set(e);
            }
        });
        a.start();
        await(a.filled);
        assertThat(tb.stats().hits()).isEqualTo(3);

        tb.close();
        pool.close();
        assertThat(device.liveBuffers()).as("buffers the device holds after close, thread A alive").isZero();
        assertThat(device.usedBytes()).isZero();
        assertThat(device.frees()).isEqualTo(device.allocations());

        a.resume.countDown();
        a.join(10_000);
        assertThat(a.failure.get()).isNull();
        // the revoked blocks left in A's magazine are never handed out: the take falls back to the closed pool
        assertThat(takeAfterClose.get()).isNotNull().hasMessageEndingWith("is closed");
        assertThat(device.liveBuffers()).isZero();
    }

    @Test
    void clearFreesFreeBlocksInTheMagazinesOfOtherLiveThreads() throws Exception {
        TestDevice device = new TestDevice("reclaim-clear");
        BufferPool pool = BufferPool.of(device);
        TensorBuffer tb = new TensorBuffer(pool, "reclaim");
        tb.reserve(s, DType.F32, 4);
        tb.reserve(Shape.of(16), DType.F32, 2);
        Holder a = new Holder(tb, s, 4);
        AtomicBoolean tookAfterClear = new AtomicBoolean();
        a.afterResume.set(() -> {
            Block b = tb.take(s, DType.F32); // a miss now: from the pool
            assertThat(b.owner()).isSameAs(pool);
            assertThat(device.isLive(b.buffer().address())).isTrue();
            b.release();
            tookAfterClear.set(true);
        });
        a.start();
        await(a.filled);

        tb.clearShape(s, DType.F32);
        assertThat(device.liveBuffers()).as("after clearShape: only the other key's 2 blocks").isEqualTo(2);
        tb.clear();
        assertThat(device.liveBuffers()).as("after clear, thread A alive").isZero();
        assertThat(tb.stats().reservedBytes()).isZero();

        a.resume.countDown();
        a.join(10_000);
        assertThat(a.failure.get()).isNull();
        assertThat(tookAfterClear).isTrue();
        tb.close();
        pool.close();
        assertThat(device.liveBuffers()).isZero();
        assertThat(device.frees()).isEqualTo(device.allocations());
    }

    /**
     * A bounded stress harness for the lock-free magazine paths: a thread cycles blocks of two keys through its
     * magazine (and releases some on a helper thread) while the main thread clears or closes at a random moment.
     * Each round checks that every block the cycling thread was handed was live on the device while it held it, that
     * nothing was freed twice (the test device throws), and that the device holds nothing once everything is closed,
     * with the cycling thread still alive.
     */
    @Test
    void releasesAndTakesRacingWithClearOrCloseLoseNothingAndNeverHandOutFreedMemory() throws Exception {
        int rounds = 300;
        for (int round = 0; round < rounds; round++) {
            boolean close = (round & 1) == 0;
            TestDevice device = new TestDevice("reclaim-race");
            BufferPool pool = BufferPool.of(device);
            TensorBuffer tb = new TensorBuffer(pool, "race");
            Shape s2 = Shape.of(4);
            tb.reserve(s, DType.F32, 40);
            tb.reserve(s2, DType.F32, 40);
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch stop = new CountDownLatch(1);
            CountDownLatch idle = new CountDownLatch(1);
            AtomicBoolean raced = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread cycler = new Thread(() -> {
                Block[] held = new Block[6];
                int i = 0;
                try {
                    for (; !raced.get() || i < 20_000; i++) {
                        int k = i % held.length;
                        if (held[k] != null) {
                            held[k].release();
                            held[k] = null;
                        }
                        Block b = tb.take((i & 2) == 0 ? s : s2, DType.F32);
                        if (!device.isLive(b.buffer().address())) {
                            throw new AssertionError("handed a freed buffer: " + b);
                        }
                        held[k] = b;
                        if (i == 100) {
                            started.countDown();
                        }
                    }
                } catch (IllegalStateException e) {
                    if (!String.valueOf(e.getMessage()).endsWith("is closed")) {
                        failure.set(e);
                    }
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    started.countDown();
                    for (int k = 0; k < held.length; k++) {
                        if (held[k] != null) {
                            if (!device.isLive(held[k].buffer().address())) {
                                failure.compareAndSet(null, new AssertionError("freed under its holder"));
                            }
                            try {
                                held[k].release();
                            } catch (Throwable t) {
                                failure.compareAndSet(null, t);
                            }
                        }
                    }
                    idle.countDown();
                    try {
                        stop.await(); // alive while the main thread checks the device
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, "cycler");
            cycler.start();
            await(started);
            int spin = ThreadLocalRandom.current().nextInt(50_000);
            for (int i = 0; i < spin; i++) {
                Thread.onSpinWait();
            }
            if (close) {
                tb.close();
            } else {
                tb.clear();
            }
            raced.set(true);
            await(idle);
            try {
                assertThat(failure.get()).as("round %d (%s)", round, close ? "close" : "clear").isNull();
                if (!close) {
                    assertThat(tb.stats().reservedBytes()).as("round %d: reserved after clear", round).isZero();
                    tb.close();
                }
                pool.close();
                assertThat(device.liveBuffers()).as("round %d (%s): buffers left, cycler alive", round,
                        close ? "close" : "clear").isZero();
                assertThat(device.frees()).isEqualTo(device.allocations());
            } finally {
                stop.countDown();
                cycler.join(10_000);
            }
        }
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch timed out");
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
