package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;

/**
 * Issue 15 item 3: {@link BufferPool#close()} racing with a thread that keeps releasing into and taking from its own
 * thread cache. A bounded stress harness (jcstress is not used: see docs/reliability.md): each round starts a cycling
 * thread, closes the pool at a random moment, and checks that the thread was refused with "is closed" (not handed a
 * freed block), that no block was freed twice, and that the device holds nothing once the thread's last block is back.
 */
class CloseRaceTest {
    private static final int ROUNDS = 200;

    @Test
    void closeRacingWithThreadCacheTrafficLosesNoBlockAndFreesNoneTwice() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            TestDevice dev = new TestDevice("closerace");
            BufferPool pool = BufferPool.of(dev);
            CountDownLatch started = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicReference<String> refusal = new AtomicReference<>();
            Thread cycler = new Thread(() -> {
                Block held = null;
                try {
                    held = pool.take(256);
                    Block other = pool.take(4096);
                    other.release(); // a second class in the cache
                    started.countDown();
                    for (int i = 0; i < 5_000_000; i++) {
                        held.release();
                        held = null;
                        held = pool.take((i & 1) == 0 ? 256 : 4096);
                    }
                } catch (IllegalStateException e) {
                    refusal.set(e.getMessage());
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    if (held != null) {
                        try {
                            held.release();
                        } catch (Throwable t) {
                            failure.compareAndSet(null, t);
                        }
                    }
                    started.countDown();
                }
            }, "cycler");
            cycler.start();
            started.await();
            int spin = ThreadLocalRandom.current().nextInt(20_000);
            for (int i = 0; i < spin; i++) {
                Thread.onSpinWait();
            }
            pool.close();
            cycler.join();
            assertThat(failure.get()).as("round %d", round).isNull();
            assertThat(refusal.get()).as("round %d: the cycling thread is refused after close", round)
                    .endsWith("is closed");
            assertThat(dev.usedBytes()).as("round %d: device bytes after close", round).isZero();
            assertThat(dev.liveBuffers()).isZero();
        }
    }
}
