package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** Interleavings of reserve, clear and close forced with latches in the test device (issue 15 items 2, 5, 6). */
class TensorBufferRaceTest {
    private final Shape s = Shape.of(8, 16);

    @Test
    void clearShapeBetweenLookupAndPushLosesNoBlock() throws Exception {
        TestDevice device = new TestDevice("race-clear");
        BufferPool pool = BufferPool.of(device);
        TensorBuffer tb = new TensorBuffer(pool, "race");
        tb.reserve(s, DType.F32, 1); // the key exists before the racing reserve looks it up
        CountDownLatch allocating = new CountDownLatch(1);
        CountDownLatch cleared = new CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        device.beforeAllocate(() -> {
            if (first.getAndSet(false)) {
                allocating.countDown();
                await(cleared);
            }
        });
        Thread t = Thread.ofPlatform().start(() -> tb.reserve(s, DType.F32, 1));
        assertThat(allocating.await(10, TimeUnit.SECONDS)).isTrue();
        tb.clearShape(s, DType.F32); // between the reserve's lookup and its push
        cleared.countDown();
        t.join(10_000);
        device.beforeAllocate(null);
        // the block reserved after the clear is a live reservation: a take hits it
        Block b = tb.take(s, DType.F32);
        assertThat(b.owner()).isSameAs(tb);
        b.close();
        tb.close();
        pool.close();
        assertThat(device.liveBuffers()).as("blocks never freed").isZero();
    }

    @Test
    void reserveIsAllOrNothing() {
        TestDevice small = new TestDevice("race-oom", 2 * 512);
        BufferPool pool = BufferPool.of(small);
        TensorBuffer tb = new TensorBuffer(pool, "oom");
        assertThatThrownBy(() -> tb.reserve(s, DType.F32, 3)).isInstanceOf(PoolOutOfMemoryException.class);
        assertThat(small.liveBuffers()).as("blocks kept after the out-of-memory").isZero();
        assertThat(tb.stats().reservedBlocks()).isZero();
        assertThat(tb.stats().reservedBytes()).isZero();
        tb.reserve(s, DType.F32, 2); // the memory is still there for a reservation that fits
        assertThat(small.liveBuffers()).isEqualTo(2);
    }

    @Test
    void reservePlanIsAllOrNothing() {
        TestDevice small = new TestDevice("race-oom-plan", 3 * 512);
        TensorBuffer tb = new TensorBuffer(BufferPool.of(small), "oomplan");
        ReservationPlan plan = new ReservationPlan(List.of(new ReservationPlan.Entry(s, DType.F32, 2),
                new ReservationPlan.Entry(Shape.of(128), DType.F64, 2)));
        assertThatThrownBy(() -> tb.reserve(plan)).isInstanceOf(PoolOutOfMemoryException.class);
        assertThat(small.liveBuffers()).isZero();
    }

    @Test
    void concurrentClosesCloseOnce() throws Exception {
        List<LeakReport> reports = new CopyOnWriteArrayList<>();
        Consumer<LeakReport> listener = reports::add;
        LeakDetector.addListener(listener);
        try {
            TestDevice device = new TestDevice("race-close");
            BufferPool pool = BufferPool.of(device);
            int rounds = 500;
            CyclicBarrier barrier = new CyclicBarrier(2);
            for (int i = 0; i < rounds; i++) {
                TensorBuffer tb = new TensorBuffer(pool, "close" + i);
                tb.reserve(s, DType.F32, 1);
                tb.take(s, DType.F32); // outstanding: each close that runs reports it
                Thread other = Thread.ofPlatform().start(() -> {
                    await(barrier);
                    tb.close();
                });
                await(barrier);
                tb.close();
                other.join(10_000);
            }
            long tbReports = reports.stream().filter(r -> r.resource().startsWith("TensorBuffer[race-close/"))
                    .count();
            assertThat(tbReports).as("leak reports of %d TensorBuffers closed twice at once", rounds)
                    .isEqualTo(rounds);
        } finally {
            LeakDetector.removeListener(listener);
        }
    }

    @Test
    void blockReleasedOnAnotherThreadIsReusableByTheTaker() throws Exception {
        TestDevice device = new TestDevice("race-remote");
        TensorBuffer tb = new TensorBuffer(BufferPool.of(device), "remote");
        tb.reserve(s, DType.F32, 1);
        Block b = tb.take(s, DType.F32);
        Thread t = Thread.ofPlatform().start(b::close);
        t.join(10_000);
        Block again = tb.take(s, DType.F32);
        assertThat(again).isSameAs(b);
        assertThat(tb.stats().misses()).isZero();
        assertThat(tb.stats().liveBytes()).isEqualTo(512);
        again.close();
        assertThat(tb.stats().liveBytes()).isZero();
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

    private static void await(CyclicBarrier b) {
        try {
            b.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
