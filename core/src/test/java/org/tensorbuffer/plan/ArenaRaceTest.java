package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.IllegalReferenceCountException;
import org.tensorbuffer.testing.TestDevice;

/**
 * Issue 15 item 5: {@link Arena#hand} racing with another hand of the same block and with {@link Arena#close()}.
 * Bounded stress harness: two threads started together on each round.
 */
class ArenaRaceTest {

    @Test
    void twoThreadsHandingOneBlockNeverBothOwnIt() throws Exception {
        TestDevice dev = new TestDevice("arena-hand");
        Arena arena = Arena.allocate(dev, 1024, 64);
        Block block = arena.block(0, 256);
        AtomicInteger owners = new AtomicInteger();
        AtomicLong doubleOwned = new AtomicLong();
        AtomicLong badCounts = new AtomicLong();
        AtomicLong handed = new AtomicLong();
        CyclicBarrier go = new CyclicBarrier(2);
        Runnable body = () -> {
            try {
                go.await();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            for (int i = 0; i < 500_000; i++) {
                Block b;
                try {
                    b = arena.hand(block);
                } catch (IllegalReferenceCountException e) {
                    badCounts.incrementAndGet();
                    continue;
                } catch (IllegalStateException e) {
                    continue; // "still in use": the other thread has it
                }
                handed.incrementAndGet();
                if (owners.incrementAndGet() != 1) {
                    doubleOwned.incrementAndGet();
                }
                owners.decrementAndGet();
                try {
                    b.release();
                } catch (IllegalReferenceCountException e) {
                    badCounts.incrementAndGet();
                }
            }
        };
        Thread a = new Thread(body);
        Thread b = new Thread(body);
        a.start();
        b.start();
        a.join();
        b.join();
        assertThat(doubleOwned.get()).as("hands that found the block already owned").isZero();
        assertThat(badCounts.get()).as("reference-count errors").isZero();
        assertThat(handed.get()).isPositive();
        assertThat(arena.outstandingBlocks()).isZero();
        arena.close();
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void handRacingWithCloseNeverGetsFreedMemory() throws Exception {
        TestDevice dev = new TestDevice("arena-close");
        int rounds = 20_000;
        Arena[] arenas = new Arena[1];
        Block[] blocks = new Block[1];
        CyclicBarrier go = new CyclicBarrier(2);
        CyclicBarrier done = new CyclicBarrier(2);
        AtomicLong handedAfterFree = new AtomicLong();
        AtomicLong handed = new AtomicLong();
        Thread hander = new Thread(() -> {
            try {
                for (int r = 0; r < rounds; r++) {
                    go.await();
                    try {
                        Block b = arenas[0].hand(blocks[0]);
                        handed.incrementAndGet();
                        if (arenas[0].isFreed()) {
                            handedAfterFree.incrementAndGet();
                        }
                        b.release();
                    } catch (IllegalStateException closed) {
                        // refused: fine
                    }
                    done.await();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        hander.start();
        for (int r = 0; r < rounds; r++) {
            arenas[0] = Arena.allocate(dev, 256, 64);
            blocks[0] = arenas[0].block(0, 256);
            go.await();
            arenas[0].close();
            done.await();
            assertThat(arenas[0].isFreed()).as("round %d: freed once nothing is out", r).isTrue();
        }
        hander.join();
        assertThat(handedAfterFree.get()).as("blocks handed out over freed memory").isZero();
        assertThat(dev.usedBytes()).isZero();
        assertThat(dev.liveBuffers()).isZero();
    }
}
