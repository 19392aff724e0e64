package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.IllegalReferenceCountException;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class MemoryScopeTest {
    private TestDevice device;
    private TensorContext ctx;

    @BeforeEach
    void setUp() {
        device = new TestDevice("fake");
        ctx = TensorContext.create(device, AllocationStrategy.REACTIVE);
    }

    @AfterEach
    void tearDown() {
        assertThat(MemoryScope.inScope()).as("a test left a scope open").isFalse();
        ctx.close();
        assertThat(device.usedBytes()).isZero();
    }

    private Tensor vec(int n) {
        return ctx.zeros(Shape.of(n), DType.F32);
    }

    private long live() {
        return ctx.pool().stats().liveBytes();
    }

    @Test
    void closesEveryTensorOnNormalExit() {
        Tensor a;
        Tensor b;
        try (MemoryScope s = MemoryScope.open()) {
            a = vec(16);
            b = vec(1000);
            assertThat(s.tensorCount()).isEqualTo(2);
            assertThat(MemoryScope.scopeTensorCount()).isEqualTo(2);
            assertThat(live()).isEqualTo(64 + 4096); // size classes of 64 B and 4000 B
        }
        assertThat(a.isClosed()).isTrue();
        assertThat(b.isClosed()).isTrue();
        assertThat(live()).isZero();
    }

    @Test
    void closesEveryTensorWhenTheBodyThrows() {
        AtomicReference<Tensor> made = new AtomicReference<>();
        assertThatThrownBy(() -> MemoryScope.run(() -> {
            made.set(vec(8));
            throw new IllegalStateException("boom");
        })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
        assertThat(made.get().isClosed()).isTrue();
        assertThat(live()).isZero();
        assertThat(MemoryScope.scopeDepth()).isZero();
    }

    @Test
    void escapedTensorMovesToTheEnclosingScopeAndOutOfTheOutermost() {
        Tensor kept;
        Tensor inner;
        try (MemoryScope outer = MemoryScope.open()) {
            try (MemoryScope in = MemoryScope.open()) {
                inner = in.escape(vec(4));
                vec(4);
                assertThat(inner.scope()).isSameAs(outer);
                assertThat(in.tensorCount()).isEqualTo(1);
            }
            assertThat(inner.isClosed()).isFalse();
            assertThat(outer.tensorCount()).isEqualTo(1);
            kept = outer.escape(vec(4));
            assertThat(kept.scope()).isNull();
        }
        assertThat(inner.isClosed()).isTrue();
        assertThat(kept.isClosed()).isFalse();
        assertThat(kept.toFloatArray()).containsExactly(0f, 0f, 0f, 0f);
        kept.close();
        assertThat(live()).isZero();
    }

    @Test
    void nestedScopesTrackDepthAndCounts() {
        assertThat(MemoryScope.inScope()).isFalse();
        assertThat(MemoryScope.scopeDepth()).isZero();
        assertThat(MemoryScope.scopeTensorCount()).isZero();
        MemoryScope.run(() -> {
            vec(1);
            assertThat(MemoryScope.scopeDepth()).isEqualTo(1);
            MemoryScope.run(() -> {
                vec(1);
                vec(1);
                assertThat(MemoryScope.scopeDepth()).isEqualTo(2);
                assertThat(MemoryScope.scopeTensorCount()).isEqualTo(2);
                assertThat(MemoryScope.inScope()).isTrue();
            });
            assertThat(MemoryScope.scopeTensorCount()).isEqualTo(1);
            assertThat(live()).isEqualTo(64);
        });
        assertThat(live()).isZero();
    }

    @Test
    void callReturnValueEscapesOthersAreReleased() {
        Tensor r = MemoryScope.call(() -> {
            Tensor tmp = vec(32);
            Tensor out = ctx.full(Shape.of(2), DType.F32, 3.0);
            assertThat(tmp.isClosed()).isFalse();
            return out;
        });
        assertThat(r.isClosed()).isFalse();
        assertThat(r.scope()).isNull();
        assertThat(r.toFloatArray()).containsExactly(3f, 3f);
        assertThat(live()).isEqualTo(64);
        r.close();

        List<Tensor> list = MemoryScope.call(() -> List.of(vec(1), vec(2)));
        assertThat(list).noneMatch(Tensor::isClosed);
        list.forEach(Tensor::close);
        assertThat(live()).isZero();
    }

    @Test
    void callInsideAScopeEscapesToThatScope() {
        try (MemoryScope outer = MemoryScope.open()) {
            Tensor r = MemoryScope.call(() -> vec(3));
            assertThat(r.scope()).isSameAs(outer);
        }
        assertThat(live()).isZero();
    }

    @Test
    void earlyCloseAndRetainInsideAScope() {
        Tensor retained;
        try (MemoryScope s = MemoryScope.open()) {
            Tensor a = vec(4);
            a.close(); // early close: the scope skips it
            assertThat(s.tensorCount()).isZero();
            retained = vec(4).retain();
        }
        assertThat(retained.isClosed()).isFalse();
        assertThat(retained.refCnt()).isEqualTo(1);
        retained.release();
        assertThat(live()).isZero();
    }

    @Test
    void closingFromAnotherThreadWhileTheScopeIsOpenIsAnError() throws Exception {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor t = ctx.full(Shape.of(2), DType.F32, 5.0);
            AtomicReference<Throwable> err = new AtomicReference<>();
            AtomicReference<float[]> read = new AtomicReference<>();
            Thread other = new Thread(() -> {
                read.set(t.toFloatArray()); // using it is allowed
                try {
                    t.close();
                } catch (Throwable e) {
                    err.set(e);
                }
            }, "other-thread");
            other.start();
            other.join(10_000);
            assertThat(read.get()).containsExactly(5f, 5f);
            assertThat(err.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("other-thread").hasMessageContaining("belongs to an open MemoryScope")
                    .hasMessageContaining(Thread.currentThread().getName());
            assertThat(t.isClosed()).isFalse();
        }
        assertThat(live()).isZero();
    }

    @Test
    void retainedHandOffToAnotherThreadOutlivesTheOwnersClose() throws Exception {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor t = ctx.full(Shape.of(4), DType.F32, 2.0).retain(); // one reference for the other thread
            t.close();                                                   // the owner is done with its own
            assertThat(s.tensorCount()).isZero();
            assertThat(t.refCnt()).isEqualTo(1);
            AtomicReference<Throwable> err = new AtomicReference<>();
            AtomicReference<float[]> read = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    read.set(t.toFloatArray());
                    t.release();
                } catch (Throwable e) {
                    err.set(e);
                }
            }, "consumer");
            other.start();
            other.join(10_000);
            assertThat(err.get()).isNull();
            assertThat(read.get()).containsExactly(2f, 2f, 2f, 2f);
            assertThat(t.isClosed()).isTrue();
        }
        assertThat(live()).isZero();
    }

    @Test
    void scopeMisuseIsReported() throws Exception {
        MemoryScope outer = MemoryScope.open();
        MemoryScope inner = MemoryScope.open();
        assertThatThrownBy(outer::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("depth 1").hasMessageContaining("innermost first");
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread th = new Thread(() -> {
            try {
                inner.close();
            } catch (Throwable e) {
                err.set(e);
            }
        }, "closer");
        th.start();
        th.join(10_000);
        assertThat(err.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closer");
        Tensor notOwned = inner.escape(inner.escape(vec(1)) == null ? null : vec(1));
        assertThat(notOwned.scope()).isSameAs(outer);
        assertThatThrownBy(() -> inner.escape(notOwned)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not owned by this scope").hasMessageContaining("depth 1");
        inner.close();
        inner.close(); // idempotent
        assertThatThrownBy(() -> inner.escape(notOwned)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed scope");
        outer.close();
        assertThat(live()).isZero();
    }

    @Test
    void scopeTableStaysSmallWhenTensorsAreClosedEarly() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int i = 0; i < 10_000; i++) {
                vec(4).close();
            }
            assertThat(s.tensorCount()).isZero();
        }
        assertThat(live()).isZero();
    }

    @Test
    void doubleCloseNamesTheTensor() {
        Tensor t = vec(3);
        t.close();
        assertThatThrownBy(t::close).isInstanceOf(IllegalReferenceCountException.class)
                .hasMessageContaining("double close of Tensor[3] float32 on fake");
    }
}
