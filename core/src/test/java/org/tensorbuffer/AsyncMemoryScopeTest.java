package org.tensorbuffer;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * {@link MemoryScope#callAsync}/{@link MemoryScope#runAsync}: tensors created by asynchronous work (on the calling
 * thread, on virtual threads through {@link MemoryScope#executor}) are released when the work settles, except the
 * result and the escaped ones; failure and cancellation release everything; an early close waits for the work.
 * Byte counts are the pool's live bytes: an F32 vector of 16 elements takes a 64-byte block, one of 256 a 1024-byte
 * block (both exact size classes).
 */
class AsyncMemoryScopeTest {
    private static final long SMALL = 64;
    private static final long LARGE = 1024;

    private TestDevice device;
    private TensorContext ctx;
    private ExecutorService vthreads;

    @BeforeEach
    void setUp() {
        device = new TestDevice("fake");
        ctx = TensorContext.create(device, AllocationStrategy.REACTIVE);
        vthreads = Executors.newVirtualThreadPerTaskExecutor();
    }

    @AfterEach
    void tearDown() {
        vthreads.close();
        assertThat(MemoryScope.inScope()).as("a test left a scope current").isFalse();
        ctx.close();
        assertThat(device.usedBytes()).isZero();
    }

    private Tensor small(double v) {
        return ctx.full(Shape.of(16), DType.F32, v);
    }

    private Tensor large(double v) {
        return ctx.full(Shape.of(256), DType.F32, v);
    }

    private long live() {
        return ctx.pool().stats().liveBytes();
    }

    @Test
    void fanOutToEightVirtualThreadsReleasesExactlyTheNonEscapedTensors() throws Exception {
        List<Tensor> temps = Collections.synchronizedList(new ArrayList<>());
        List<Tensor> escaped = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        CyclicBarrier together = new CyclicBarrier(8);
        CountDownLatch made = new CountDownLatch(8);
        CountDownLatch go = new CountDownLatch(1);
        CompletableFuture<List<Tensor>> f = MemoryScope.callAsync(() -> {
            MemoryScope s = MemoryScope.current();
            scope.set(s);
            Executor ex = s.executor(vthreads);
            List<CompletableFuture<Tensor>> parts = IntStream.range(0, 8).mapToObj(i -> CompletableFuture.supplyAsync(
                    () -> {
                        assertThat(Thread.currentThread().isVirtual()).isTrue();
                        assertThat(MemoryScope.current()).isSameAs(s);
                        await(together); // all eight add to the scope at the same time
                        temps.add(small(i));
                        temps.add(large(i));
                        escaped.add(s.escape(small(100 + i)));
                        Tensor out = large(i);
                        made.countDown();
                        await(go);
                        return out;
                    }, ex)).toList();
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
                    .thenApply(v -> parts.stream().map(CompletableFuture::join).toList());
        });
        assertThat(made.await(10, SECONDS)).isTrue();
        MemoryScope s = scope.get();
        assertThat(s.isAsync()).isTrue();
        assertThat(s.isOpen()).isTrue();
        assertThat(s.depth()).isEqualTo(1);
        assertThat(s.tensorCount()).isEqualTo(8 * 3); // two temporaries and the result per task; escaped not counted
        assertThat(live()).isEqualTo(8 * (SMALL + LARGE + SMALL + LARGE));
        assertThat(f).isNotDone();
        go.countDown();

        List<Tensor> results = f.get(10, SECONDS);
        assertThat(s.isOpen()).isFalse();
        assertThat(live()).as("only the escaped tensors and the results").isEqualTo(8 * (SMALL + LARGE));
        assertThat(temps).hasSize(16).allMatch(Tensor::isClosed);
        assertThat(escaped).hasSize(8).noneMatch(Tensor::isClosed).allMatch(t -> t.scope() == null);
        assertThat(results).hasSize(8).noneMatch(Tensor::isClosed).allMatch(t -> t.scope() == null);
        for (int i = 0; i < 8; i++) {
            assertThat(results.get(i).toFloatArray()).hasSize(256).containsOnly((float) i);
        }
        assertThat(escaped.stream().map(t -> (double) t.toFloatArray()[0]).sorted().toList())
                .containsExactly(100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0);
        escaped.forEach(Tensor::close);
        results.forEach(Tensor::close);
        assertThat(live()).isZero();
    }

    @Test
    void theResultGoesToAnEnclosingSynchronousScopeEvenWhenItSettlesOnAnotherThread() throws Exception {
        Tensor r;
        try (MemoryScope outer = MemoryScope.open()) {
            CompletableFuture<Tensor> f = MemoryScope.callAsync(() -> {
                small(0); // a temporary of the body, on this thread
                return CompletableFuture.supplyAsync(() -> large(7), MemoryScope.current().executor(vthreads));
            });
            r = f.get(10, SECONDS);
            assertThat(r.scope()).isSameAs(outer);
            assertThat(outer.tensorCount()).isEqualTo(1);
            assertThat(live()).isEqualTo(LARGE);
            assertThat(r.toFloatArray()[255]).isEqualTo(7f);
        }
        assertThat(r.isClosed()).as("released by the enclosing scope").isTrue();
        assertThat(live()).isZero();

        // the enclosing scope closes before the work settles: the result leaves all scopes, the caller closes it
        CountDownLatch go = new CountDownLatch(1);
        CompletableFuture<Tensor> f;
        try (MemoryScope outer = MemoryScope.open()) {
            f = MemoryScope.callAsync(() -> CompletableFuture.supplyAsync(() -> {
                await(go);
                return large(3);
            }, MemoryScope.current().executor(vthreads)));
            assertThat(outer.tensorCount()).isZero();
        }
        go.countDown();
        Tensor late = f.get(10, SECONDS);
        assertThat(late.isClosed()).isFalse();
        assertThat(late.scope()).isNull();
        assertThat(live()).isEqualTo(LARGE);
        late.close();
        assertThat(live()).isZero();
    }

    @Test
    void nestedScopesInsideAsyncStagesBehaveAsSynchronousOnes() throws Exception {
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        CompletableFuture<Tensor> f;
        try (MemoryScope outer = MemoryScope.open()) {
            f = MemoryScope.callAsync(() -> {
                MemoryScope s = MemoryScope.current();
                scope.set(s);
                assertThat(s.parent()).isSameAs(outer);
                assertThat(MemoryScope.scopeDepth()).isEqualTo(2);
                return CompletableFuture.supplyAsync(() -> {
                    assertThat(MemoryScope.scopeDepth()).isEqualTo(2);
                    Tensor kept = MemoryScope.call(() -> {
                        small(1);
                        small(2);
                        assertThat(MemoryScope.scopeDepth()).isEqualTo(3);
                        assertThat(MemoryScope.scopeTensorCount()).isEqualTo(2);
                        return large(5);
                    });
                    assertThat(kept.scope()).isSameAs(s); // the nested call's result escaped into the async scope
                    assertThat(MemoryScope.scopeTensorCount()).isEqualTo(1);
                    assertThat(live()).as("the nested call's temporaries are gone").isEqualTo(LARGE);
                    Tensor fromChild = MemoryScope.callAsync(() -> {
                        assertThat(MemoryScope.scopeDepth()).isEqualTo(3);
                        small(9);
                        return CompletableFuture.completedFuture(small(8));
                    }).join();
                    assertThat(fromChild.scope()).isSameAs(s);
                    assertThat(MemoryScope.scopeTensorCount()).isEqualTo(2);
                    return kept;
                }, s.executor(vthreads));
            });
            assertThat(MemoryScope.current()).isSameAs(outer);
            Tensor r = f.get(10, SECONDS);
            assertThat(r.toFloatArray()).hasSize(256).containsOnly(5f);
            assertThat(r.scope()).isSameAs(outer);
            assertThat(scope.get().isOpen()).isFalse();
            assertThat(live()).isEqualTo(LARGE);
        }
        assertThat(live()).isZero();
    }

    @Test
    void exceptionalCompletionReleasesEverythingIncludingEscapedTensors() {
        List<Tensor> made = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Tensor> f = MemoryScope.callAsync(() -> {
            MemoryScope s = MemoryScope.current();
            made.add(small(0));
            return CompletableFuture.supplyAsync(() -> {
                made.add(large(1));
                made.add(s.escape(small(2)));
                throw new IllegalStateException("stage failed");
            }, s.executor(vthreads));
        });
        assertThatThrownBy(() -> f.get(10, SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().hasMessageContaining("stage failed");
        assertThat(made).hasSize(3).allMatch(Tensor::isClosed);
        assertThat(live()).isZero();

        // the body itself throws: a failed future, nothing left
        CompletableFuture<Tensor> g = MemoryScope.callAsync(() -> {
            made.add(large(3));
            throw new IllegalArgumentException("body failed");
        });
        assertThat(g).isCompletedExceptionally();
        assertThatThrownBy(g::join).cause().isInstanceOf(IllegalArgumentException.class).hasMessage("body failed");
        assertThat(made).hasSize(4).allMatch(Tensor::isClosed);
        assertThat(live()).isZero();
        assertThat(MemoryScope.inScope()).isFalse();
    }

    @Test
    void cancellationReleasesEverythingOnceTheRunningStagesReturn() throws Exception {
        List<Tensor> made = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        CountDownLatch inStage = new CountDownLatch(1);
        CountDownLatch go = new CountDownLatch(1);
        AtomicReference<float[]> readAfterCancel = new AtomicReference<>();
        CompletableFuture<Tensor> f = MemoryScope.callAsync(() -> {
            MemoryScope s = MemoryScope.current();
            scope.set(s);
            made.add(small(1));
            return CompletableFuture.supplyAsync(() -> {
                Tensor t = large(2);
                made.add(t);
                made.add(s.escape(small(3)));
                inStage.countDown();
                await(go);
                readAfterCancel.set(t.toFloatArray()); // still valid: the scope waits for this stage
                Tensor r = small(4);
                made.add(r);
                return r;
            }, s.executor(vthreads));
        });
        assertThat(inStage.await(10, SECONDS)).isTrue();
        assertThat(f.cancel(true)).isTrue();
        assertThat(f).isCancelled();
        MemoryScope s = scope.get();
        assertThat(s.isOpen()).as("a stage still runs").isTrue();
        assertThat(made).noneMatch(Tensor::isClosed);
        go.countDown();
        s.whenClosed().get(10, SECONDS);
        assertThat(readAfterCancel.get()).hasSize(256).containsOnly(2f);
        assertThat(made).hasSize(4).allMatch(Tensor::isClosed);
        assertThat(live()).isZero();

        // cancelled while nothing runs: released at once
        CompletableFuture<Void> never = new CompletableFuture<>();
        CompletableFuture<Void> g = MemoryScope.runAsync(() -> {
            made.add(large(5));
            return never;
        });
        assertThat(live()).isEqualTo(LARGE);
        g.cancel(false);
        assertThat(never).as("cancelling the result cancels the work").isCancelled();
        assertThat(made).hasSize(5).allMatch(Tensor::isClosed);
        assertThat(live()).isZero();
        assertThatThrownBy(g::join).isInstanceOf(CancellationException.class);
    }

    @Test
    void anEarlyCloseDoesNotReleaseTensorsStillUsedByRunningStages() throws Exception {
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        AtomicReference<Tensor> used = new AtomicReference<>();
        CountDownLatch inStage = new CountDownLatch(1);
        CountDownLatch go = new CountDownLatch(1);
        CompletableFuture<Double> f = MemoryScope.callAsync(() -> {
            MemoryScope s = MemoryScope.current();
            scope.set(s);
            Tensor x = large(6);
            used.set(x);
            return CompletableFuture.supplyAsync(() -> {
                inStage.countDown();
                await(go);
                return 2.0 * x.toFloatArray()[0];
            }, s.executor(vthreads));
        });
        assertThat(inStage.await(10, SECONDS)).isTrue();
        MemoryScope s = scope.get();
        s.close(); // early: recorded, nothing released
        s.close();
        assertThat(s.isOpen()).isTrue();
        assertThat(s.toString()).contains("close requested");
        assertThat(used.get().isClosed()).isFalse();
        assertThat(live()).isEqualTo(LARGE);
        go.countDown();
        assertThat(f.get(10, SECONDS)).isEqualTo(12.0);
        assertThat(s.isOpen()).isFalse();
        assertThat(used.get().isClosed()).isTrue();
        assertThat(live()).isZero();
    }

    @Test
    void usingATensorOfAClosedScopeIsAClearErrorAndLateTasksReleaseWhatTheyMake() throws Exception {
        AtomicReference<Tensor> leakedRef = new AtomicReference<>();
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        AtomicReference<Runnable> late = new AtomicReference<>();
        AtomicReference<Tensor> madeLate = new AtomicReference<>();
        MemoryScope.runAsync(() -> {
            MemoryScope s = MemoryScope.current();
            scope.set(s);
            late.set(s.wrap(() -> {
                assertThat(MemoryScope.current()).isNotSameAs(s);
                madeLate.set(small(0));
                leakedRef.get().toFloatArray();
            }));
            return CompletableFuture.runAsync(() -> leakedRef.set(small(1)), s.executor(vthreads));
        }).get(10, SECONDS);
        Tensor t = leakedRef.get();
        MemoryScope s = scope.get();
        assertThat(s.isOpen()).isFalse();
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Tensor[16] float32 on fake (closed) is closed")
                .hasMessageContaining("released when its asynchronous MemoryScope[depth 1, async")
                .hasMessageContaining("closed]");
        assertThatThrownBy(t::close).hasMessageContaining("double close").hasMessageContaining("asynchronous");
        assertThatThrownBy(() -> s.escape(t)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed scope");
        // a task that starts after the scope closed runs in a scope of its own and releases what it made
        assertThatThrownBy(() -> late.get().run()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("released when its asynchronous MemoryScope");
        assertThat(madeLate.get().isClosed()).isTrue();
        CompletableFuture<Tensor> leftover = CompletableFuture.supplyAsync(() -> small(2), s.executor(Runnable::run));
        Tensor fromLeftover = leftover.get(10, SECONDS); // ran on this thread, inside supplyAsync
        assertThat(fromLeftover.isClosed()).as("released when the late task returned").isTrue();
        assertThat(MemoryScope.inScope()).isFalse();
        try (MemoryScope sync = MemoryScope.open()) {
            assertThatThrownBy(() -> sync.executor(vthreads)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("synchronous scope");
            assertThatThrownBy(() -> sync.wrap(() -> { })).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(sync::whenClosed).isInstanceOf(IllegalStateException.class);
        }
        assertThat(live()).isZero();
    }

    @Test
    void severalThreadsAddCloseAndEscapeInOneScopeAtOnce() throws Exception {
        int threads = 8;
        int perThread = 2000;
        CyclicBarrier start = new CyclicBarrier(threads);
        CountDownLatch done = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        AtomicReference<MemoryScope> scope = new AtomicReference<>();
        List<Tensor> escaped = Collections.synchronizedList(new ArrayList<>());
        List<Tensor> others = Collections.synchronizedList(new ArrayList<>());
        ExecutorService platform = Executors.newFixedThreadPool(threads);
        try {
            CompletableFuture<Void> f = MemoryScope.runAsync(() -> {
                MemoryScope s = MemoryScope.current();
                scope.set(s);
                Executor ex = s.executor(platform);
                List<CompletableFuture<Void>> tasks = IntStream.range(0, threads).mapToObj(ti ->
                        CompletableFuture.runAsync(() -> {
                            await(start);
                            for (int i = 0; i < perThread; i++) {
                                Tensor t = small(i);
                                if (i % 3 == 0) {
                                    t.close();
                                } else if (i % 5 == 0) {
                                    escaped.add(s.escape(t));
                                } else {
                                    others.add(t);
                                }
                            }
                            done.countDown();
                            await(go);
                        }, ex)).toList();
                return CompletableFuture.allOf(tasks.toArray(CompletableFuture[]::new));
            });
            assertThat(done.await(30, SECONDS)).isTrue();
            int closedEarly = (perThread + 2) / 3;
            int escapedPerThread = (int) IntStream.range(0, perThread).filter(i -> i % 3 != 0 && i % 5 == 0).count();
            int kept = perThread - closedEarly - escapedPerThread;
            assertThat(scope.get().tensorCount()).isEqualTo(threads * kept);
            assertThat(live()).isEqualTo(threads * (long) (kept + escapedPerThread) * SMALL);
            go.countDown();
            f.get(30, SECONDS);
            assertThat(others).hasSize(threads * kept).allMatch(Tensor::isClosed);
            assertThat(escaped).hasSize(threads * escapedPerThread).noneMatch(Tensor::isClosed);
            assertThat(live()).isEqualTo(threads * (long) escapedPerThread * SMALL);
            escaped.forEach(Tensor::close);
            assertThat(live()).isZero();
        } finally {
            platform.shutdownNow();
        }
    }

    static void await(CountDownLatch latch) {
        try {
            if (!latch.await(30, SECONDS)) {
                throw new IllegalStateException("latch timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static void await(CyclicBarrier barrier) {
        try {
            barrier.await(30, SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
