package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;

/** Four threads take and close blocks and tensors of mixed sizes for a bounded time. */
class ConcurrencyTest {
    private static final long[] SIZES = {8, 32, 64, 100, 512, 4096, 70_000, 1 << 20};

    @Test
    void noBlockHasTwoOwnersAndNothingIsLeft() throws Exception {
        TestDevice device = new TestDevice();
        BufferPool pool = BufferPool.builder(device).maxCachedBytes(8 << 20).build();
        TensorBuffer tb = new TensorBuffer(pool);
        tb.reserve(Shape.of(16), DType.F32, 8);
        TensorContext ctx = TensorContext.over(pool, tb, AllocationStrategy.PROACTIVE);
        Map<Block, Thread> owners = new ConcurrentHashMap<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long deadline = System.nanoTime() + 700_000_000L;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int seed = t;
            threads.add(new Thread(() -> {
                Random r = new Random(seed);
                List<Block> held = new ArrayList<>();
                try {
                    while (System.nanoTime() < deadline) {
                        if (r.nextInt(4) == 0) {
                            try (Tensor x = ctx.empty(Shape.of(16), DType.F32)) {
                                Block b = x.block();
                                if (owners.putIfAbsent(b, Thread.currentThread()) != null) {
                                    throw new AssertionError(b + " handed to two owners");
                                }
                                owners.remove(b);
                            }
                        }
                        if (held.size() < 16 && r.nextBoolean()) {
                            Block b = pool.take(SIZES[r.nextInt(SIZES.length)]);
                            if (owners.putIfAbsent(b, Thread.currentThread()) != null) {
                                throw new AssertionError(b + " handed to two owners");
                            }
                            held.add(b);
                        } else if (!held.isEmpty()) {
                            Block b = held.remove(r.nextInt(held.size()));
                            owners.remove(b);
                            b.close();
                        }
                    }
                    for (Block b : held) {
                        owners.remove(b);
                        b.close();
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failure.get()).isNull();
        PoolStats s = pool.stats();
        assertThat(s.requests()).isPositive();
        assertThat(s.liveBytes()).isZero();
        assertThat(s.hits() + s.misses()).isEqualTo(s.requests());
        assertThat(s.cachedBytes()).isLessThanOrEqualTo(8 << 20).isEqualTo(s.reservedBytes());
        assertThat(tb.stats().liveBytes()).isZero();
        assertThat(tb.stats().hits()).isPositive();
        assertThat(owners).isEmpty();
        tb.close();
        pool.close();
        assertThat(device.liveBuffers()).isZero();
    }
}
