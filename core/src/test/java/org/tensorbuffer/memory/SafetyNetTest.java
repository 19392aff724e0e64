package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The safety nets (leak detector, close-time reports) must never free or recycle memory someone still owns, and must
 * not hoard or lose memory (issue 15, items 1, 4, 7 and 8).
 */
class SafetyNetTest {
    private final List<LeakReport> reports = new CopyOnWriteArrayList<>();
    private final Consumer<LeakReport> listener = reports::add;
    private LeakDetector.Level saved;

    @BeforeEach
    void setUp() {
        saved = LeakDetector.level();
        LeakDetector.addListener(listener);
    }

    @AfterEach
    void tearDown() {
        LeakDetector.removeListener(listener);
        LeakDetector.level(saved);
    }

    private static void gcUntil(BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!done.getAsBoolean() && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
    }

    /** Waits until {@code ref} is cleared, then gives the Cleaner thread time to run. */
    private static void collect(WeakReference<?> ref) throws InterruptedException {
        gcUntil(() -> ref.get() == null);
        assertThat(ref.get()).as("collected").isNull();
        for (int i = 0; i < 10; i++) {
            System.gc();
            Thread.sleep(30);
        }
    }

    /** u's block is released behind its back and taken by w; u.close() throws; returns u weakly. */
    private static WeakReference<Tensor> misuseThenReuse(TensorContext ctx, Tensor[] w, boolean closeU) {
        Tensor u = ctx.empty(Shape.of(16), DType.F32);
        Block ub = u.block();
        ub.release(); // a bug elsewhere gives u's block back
        w[0] = ctx.empty(Shape.of(16), DType.F32);
        assertThat(w[0].block()).as("the recycled block is handed to w").isSameAs(ub);
        if (closeU) {
            assertThatThrownBy(u::close).isInstanceOf(UseAfterRecycleException.class);
        }
        return new WeakReference<>(u);
    }

    @Test
    void item1LeakDetectorNeverReleasesABlockThatWasRecycledToAnOpenTensor() throws Exception {
        LeakDetector.level(LeakDetector.Level.PARANOID);
        for (boolean closeU : new boolean[] {true, false}) {
            TestDevice dev = new TestDevice("item1-" + closeU);
            try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE)) {
                Tensor[] w = new Tensor[1];
                WeakReference<Tensor> u = misuseThenReuse(ctx, w, closeU);
                collect(u);
                assertThat(w[0].block().refCnt()).as("w still owns its block (closeU=%s)", closeU).isEqualTo(1);
                w[0].checkLive(); // no UseAfterRecycleException: the block was not recycled under w
                Tensor next = ctx.empty(Shape.of(16), DType.F32);
                assertThat(next.block()).as("w's block is not handed out again").isNotSameAs(w[0].block());
                next.close();
                w[0].close();
                assertThat(ctx.pool().stats().liveBytes()).isZero();
            }
        }
    }

    @Test
    void item4ABlockReleasedByAThreadThatNeverTakesGoesToTheSharedTier() throws Exception {
        TestDevice dev = new TestDevice("item4");
        try (BufferPool pool = BufferPool.of(dev)) {
            Block b = pool.take(1000);
            Thread releaser = new Thread(b::release, "releaser");
            releaser.start();
            releaser.join();
            Block again = pool.take(1000);
            assertThat(again).as("reused by the taking thread, not hoarded by the releaser").isSameAs(b);
            assertThat(dev.allocations()).isEqualTo(1);
            again.release();
        }
        assertThat(dev.usedBytes()).isZero();
    }

    private static void leakOne(TensorContext ctx) {
        ctx.empty(Shape.of(100), DType.F32);
    }

    @Test
    void item4LeakDetectorCleanupThreadDoesNotHoardLeakedBlocks() throws Exception {
        LeakDetector.level(LeakDetector.Level.PARANOID);
        TestDevice dev = new TestDevice("item4-leak");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE)) {
            leakOne(ctx);
            gcUntil(() -> reports.stream().anyMatch(r -> r.resource().contains("item4-leak")));
            assertThat(ctx.pool().stats().liveBytes()).isZero();
            Tensor t = ctx.empty(Shape.of(100), DType.F32);
            assertThat(dev.allocations()).as("the leaked block was reused, not kept by the cleanup thread")
                    .isEqualTo(1);
            t.close();
        }
    }

    @Test
    void item7PoolBudgetFromTheEnvironmentRefusesOverflow() {
        assertThat(BufferPool.parseMaxCachedMegabytes("512")).isEqualTo(512L << 20);
        assertThat(BufferPool.parseMaxCachedMegabytes(" 0 ")).isZero();
        assertThat(BufferPool.parseMaxCachedMegabytes("8796093022207")).isEqualTo(8796093022207L << 20);
        assertThatThrownBy(() -> BufferPool.parseMaxCachedMegabytes("99999999999999"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("'99999999999999' MiB is too large (at most 8796093022207 MiB)");
        assertThatThrownBy(() -> BufferPool.parseMaxCachedMegabytes("8796093022208"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> BufferPool.parseMaxCachedMegabytes("-1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("must be a non-negative integer number of MiB, got '-1'");
        assertThatThrownBy(() -> BufferPool.parseMaxCachedMegabytes("1e3"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void item8UntrackedLeakedMemoryIsReturnedAfterThePoolIsClosed() throws Exception {
        LeakDetector.level(LeakDetector.Level.DISABLED); // as an unsampled tensor under SAMPLED
        TestDevice dev = new TestDevice("item8");
        TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE);
        leakOne(ctx);
        Tensor kept = ctx.empty(Shape.of(8), DType.F32); // leaked at close, but still referenced: must stay valid
        long keptBytes = kept.block().capacity();
        ctx.close();
        assertThat(reports).anyMatch(r -> r.resource().startsWith("BufferPool[item8") && r.count() == 2);
        gcUntil(() -> dev.usedBytes() == keptBytes);
        assertThat(dev.usedBytes()).as("the unreachable leaked block is freed, the referenced one kept")
                .isEqualTo(keptBytes);
        kept.checkLive();
        kept.close();
        assertThat(dev.usedBytes()).isZero();
        assertThat(dev.liveBuffers()).isZero();
    }

    @Test
    void item8PeakLiveBytesNeverExceedsPeakReservedBytes() throws Exception {
        TestDevice dev = new TestDevice("item8-peak");
        try (BufferPool pool = BufferPool.of(dev)) {
            for (int i = 0; i < 10; i++) {
                Block b = pool.take(1 << 20);
                Thread t = new Thread(b::release);
                t.start();
                t.join();
            }
            PoolStats s = pool.stats();
            assertThat(s.peakReservedBytes()).isEqualTo(1 << 20);
            assertThat(s.peakLiveBytes()).isEqualTo(1 << 20);
            assertThat(s.liveBytes()).isZero();
        }
    }
}
