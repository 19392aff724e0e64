package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * 8 threads allocate mixed sizes through a reactive and a proactive context over one pool, close in random order,
 * and open nested scopes that escape some tensors. An ownership table (buffer address -> owner) catches a buffer
 * handed to two owners at once, and a stamp written into each buffer catches one overwritten by another owner.
 */
class ScopeStressTest {
    private static final int THREADS = 8;
    private static final long[] SIZES = {4, 16, 100, 1000, 4096, 10_000, 65_536};
    private static final Shape[] RESERVED = {Shape.of(16), Shape.of(1000), Shape.of(10_000)};

    private final Map<Long, Item> owners = new ConcurrentHashMap<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final AtomicLong stamps = new AtomicLong(1);

    /** A tensor, maybe a view of it, the stamp written into its buffer. */
    private final class Item {
        final Tensor base;
        final Tensor view;
        final long stamp = stamps.getAndIncrement();
        final long address;

        Item(Tensor base, boolean withView) {
            this.base = base;
            this.view = withView ? base.reshape(base.elementCount()) : null;
            this.address = base.buffer().address();
            Item prev = owners.putIfAbsent(address, this);
            if (prev != null) {
                violations.add("buffer 0x" + Long.toHexString(address) + " handed to two owners: stamps " + prev.stamp
                        + " and " + stamp);
            }
            MemorySegment s = MemorySegment.ofArray(new long[] {stamp});
            base.device().copyFromHost(s, 0, base.buffer(), base.byteOffset(), 8);
        }

        /** Checks the stamp and gives up ownership; the caller then closes (or its scope does). */
        void disown() {
            long[] got = new long[1];
            Tensor t = view != null ? view : base;
            t.device().copyToHost(t.buffer(), t.byteOffset(), MemorySegment.ofArray(got), 0, 8);
            if (got[0] != stamp) {
                violations.add("stamp " + stamp + " overwritten with " + got[0]);
            }
            if (!owners.remove(address, this)) {
                violations.add("ownership of stamp " + stamp + " lost");
            }
        }

        void close() {
            disown();
            if (view != null) {
                view.close();
            }
            base.close();
        }
    }

    @Test
    void eightThreadsMixedSizesRandomCloseOrderNestedAndEscapedScopes() throws Exception {
        List<LeakReport> leaks = new CopyOnWriteArrayList<>();
        Consumer<LeakReport> listener = leaks::add;
        LeakDetector.addListener(listener);
        TestDevice dev = new TestDevice("stress");
        BufferPool pool = BufferPool.builder(dev).name("stress").maxCachedBytes(2L << 20)
                .maxThreadCacheBytes(64 << 10).maxBlocksPerClass(8).build();
        TensorBuffer tb = new TensorBuffer(pool, "stress");
        for (Shape s : RESERVED) {
            tb.reserve(s, DType.F32, 6);
        }
        TensorContext reactive = TensorContext.over(pool, tb, AllocationStrategy.REACTIVE);
        TensorContext proactive = TensorContext.over(pool, tb, AllocationStrategy.PROACTIVE);
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        AtomicLong ops = new AtomicLong();
        long deadline = System.nanoTime() + 3_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int ti = 0; ti < THREADS; ti++) {
            final int seed = ti;
            Thread th = new Thread(() -> {
                try {
                    run(new SplittableRandom(seed * 7919L + 1), reactive, proactive, deadline, ops);
                } catch (Throwable e) {
                    errors.add(e);
                }
            }, "stress-" + ti);
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(60_000);
            assertThat(th.isAlive()).as(th.getName() + " finished").isFalse();
        }
        assertThat(errors).isEmpty();
        assertThat(violations).isEmpty();
        assertThat(owners).isEmpty();
        assertThat(ops.get()).isGreaterThan(1000);

        PoolStats ps = pool.stats();
        TensorBufferStats ts = tb.stats();
        assertThat(ps.liveBytes()).isZero();
        assertThat(ts.liveBytes()).isZero();
        assertThat(ps.hits() + ps.misses()).isEqualTo(ps.requests());
        assertThat(ts.hits() + ts.misses()).isEqualTo(ts.requests());
        assertThat(ps.reservedBytes() + ts.reservedBytes()).isEqualTo(dev.usedBytes());
        assertThat(ps.rawAllocations() - ps.rawFrees()).isEqualTo(dev.allocations() - dev.frees()
                - ts.reservedBlocks());
        Map<String, Long> m = reactive.memoryStats();
        assertThat(m.get("tensorbuffer.pool.hits") + m.get("tensorbuffer.pool.misses"))
                .isEqualTo(m.get("tensorbuffer.pool.requests"));
        assertThat(m.get("allocated_bytes.all.current")).isZero();
        assertThat(pool.outstandingBlocks()).isEmpty();

        tb.close();
        pool.close();
        LeakDetector.removeListener(listener);
        assertThat(leaks.stream().filter(r -> r.resource().contains("stress")).toList()).isEmpty();
        assertThat(dev.usedBytes()).isZero();
        assertThat(dev.allocations()).isEqualTo(dev.frees());
    }

    private void run(SplittableRandom rnd, TensorContext reactive, TensorContext proactive, long deadline,
                     AtomicLong ops) {
        List<Item> held = new ArrayList<>();
        for (int iter = 0; iter < 4000 && System.nanoTime() < deadline; iter++) {
            int op = rnd.nextInt(10);
            if (op < 4) {
                held.add(make(rnd, reactive, proactive));
            } else if (op < 7 && !held.isEmpty()) {
                held.remove(rnd.nextInt(held.size())).close();
            } else {
                held.addAll(scoped(rnd, reactive, proactive, 0));
            }
            if (held.size() > 40) {
                held.remove(rnd.nextInt(held.size())).close();
            }
            ops.incrementAndGet();
        }
        while (!held.isEmpty()) {
            held.remove(rnd.nextInt(held.size())).close();
        }
    }

    private Item make(SplittableRandom rnd, TensorContext reactive, TensorContext proactive) {
        TensorContext ctx = rnd.nextBoolean() ? reactive : proactive;
        Shape s = rnd.nextInt(3) == 0 ? RESERVED[rnd.nextInt(RESERVED.length)]
                : Shape.of(SIZES[rnd.nextInt(SIZES.length)]);
        return new Item(ctx.empty(s, DType.F32), rnd.nextInt(4) == 0);
    }

    /** A scope making a few tensors, maybe a nested scope; returns the items that escaped out of all scopes. */
    private List<Item> scoped(SplittableRandom rnd, TensorContext reactive, TensorContext proactive, int depth) {
        List<Item> out = new ArrayList<>();
        List<Item> mine = new ArrayList<>();
        try (MemoryScope scope = MemoryScope.open()) {
            int n = 1 + rnd.nextInt(5);
            for (int i = 0; i < n; i++) {
                mine.add(make(rnd, reactive, proactive));
            }
            if (depth < 2 && rnd.nextBoolean()) {
                List<Item> up = scoped(rnd, reactive, proactive, depth + 1); // escaped into this scope
                mine.addAll(up);
            }
            if (rnd.nextInt(3) == 0) { // early close of one
                mine.remove(rnd.nextInt(mine.size())).close();
            }
            if (!mine.isEmpty() && rnd.nextBoolean()) { // escape one (and its view)
                Item e = mine.remove(rnd.nextInt(mine.size()));
                scope.escape(e.base);
                if (e.view != null) {
                    scope.escape(e.view);
                }
                out.add(e);
            }
            for (Item it : mine) {
                it.disown(); // the scope closes these
            }
        }
        for (Item it : mine) {
            if (!it.base.isClosed() || (it.view != null && !it.view.isClosed())) {
                violations.add("scope did not close stamp " + it.stamp);
            }
        }
        return out; // escaped into the enclosing scope (or out of all scopes at depth 0): still owned and stamped
    }
}
