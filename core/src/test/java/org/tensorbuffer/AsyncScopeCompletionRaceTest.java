package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The interleavings of an asynchronous scope's settlement with a cancel (or outside completion) of the future
 * {@link MemoryScope#callAsync} returned, forced deterministically. They are what left 512 B live in one run of
 * {@link AsyncScopeStressTest}: the scope decided that the work succeeded and handed its result and escaped tensors
 * out, then a cancel won the race to complete the future, so nobody received them and nobody released them.
 *
 * <p>The context uses {@link AllocationStrategy#NONE}, so every tensor's last release frees its device buffer at once;
 * the device's free hook then runs code at a known point of the scope's release loop (after it has handed out the
 * kept tensors, before it completes the future), and {@link TestDevice#usedBytes()} counts exactly the live tensors.
 */
class AsyncScopeCompletionRaceTest {
    private TestDevice device;
    private TensorContext ctx;

    @BeforeEach
    void setUp() {
        device = new TestDevice("race");
        ctx = TensorContext.create(device, AllocationStrategy.NONE);
    }

    @AfterEach
    void tearDown() {
        device.beforeFree(null);
        assertThat(MemoryScope.inScope()).isFalse();
        ctx.close();
        assertThat(device.usedBytes()).isZero();
    }

    private Tensor vector(int n) {
        return ctx.empty(Shape.of(n), DType.F32);
    }

    /** A scope with a temporary (16 floats), an escaped tensor (32) and a result (64), waiting for {@code stage}. */
    private CompletableFuture<Tensor> scopeWith(CompletableFuture<Tensor> stage, Tensor[] made) {
        return MemoryScope.callAsync(() -> {
            MemoryScope s = MemoryScope.current();
            made[0] = vector(16);
            made[1] = s.escape(vector(32));
            made[2] = vector(64);
            return stage;
        });
    }

    @Test
    void aCancelAfterTheScopeCommittedToSuccessIsRefusedAndTheCallerGetsTheResult() {
        CompletableFuture<Tensor> stage = new CompletableFuture<>();
        Tensor[] made = new Tensor[3];
        CompletableFuture<Tensor> f = scopeWith(stage, made);
        assertThat(device.usedBytes()).isEqualTo(4 * (16 + 32 + 64));
        AtomicReference<Boolean> cancelled = new AtomicReference<>();
        // the scope frees the temporary after it has handed the result and the escaped tensor out, before it
        // completes f: a cancel lands exactly there
        device.beforeFree(() -> {
            device.beforeFree(null);
            cancelled.set(f.cancel(true));
        });
        stage.complete(made[2]); // settles on this thread: the scope closes here

        assertThat(cancelled.get()).as("the cancel ran inside the scope's release loop").isNotNull();
        assertThat(made[0].isClosed()).isTrue();
        // before the fix: the cancel won, f was cancelled, and the 384 B of the result and the escaped tensor stayed
        // live with no owner
        assertThat(device.usedBytes()).as("live bytes when f is " + (f.isCancelled() ? "cancelled" : "done"))
                .isEqualTo(f.isCancelled() ? 0 : 4 * (32 + 64));
        assertThat(cancelled.get()).as("cancel() once the scope has committed to its outcome").isFalse();
        assertThat(f.isCancelled()).isFalse();
        assertThat(f.join()).isSameAs(made[2]);
        assertThat(made[2].scope()).isNull();
        made[1].close();
        made[2].close();
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void anOutsideCompletionAfterTheScopeCommittedIsRefused() {
        CompletableFuture<Tensor> stage = new CompletableFuture<>();
        Tensor[] made = new Tensor[3];
        CompletableFuture<Tensor> f = scopeWith(stage, made);
        AtomicBoolean completed = new AtomicBoolean(true);
        AtomicBoolean failed = new AtomicBoolean(true);
        device.beforeFree(() -> {
            device.beforeFree(null);
            completed.set(f.complete(null));
            failed.set(f.completeExceptionally(new IllegalStateException("too late")));
        });
        stage.complete(made[2]);
        assertThat(completed.get()).isFalse();
        assertThat(failed.get()).isFalse();
        assertThat(f.join()).isSameAs(made[2]);
        assertThat(device.usedBytes()).isEqualTo(4 * (32 + 64));
        made[1].close();
        made[2].close();
    }

    @Test
    void aCancelWhoseCallbacksCompleteTheWorkNormallyStillReleasesEverything() {
        CompletableFuture<Tensor> stage = new CompletableFuture<>();
        Tensor[] made = new Tensor[3];
        CompletableFuture<Tensor> f = scopeWith(stage, made);
        // runs inside cancel(), before the scope has cancelled its work: the work completes normally meanwhile
        // (before the fix its normal settlement overwrote the cancellation, and the result and escaped tensor leaked)
        f.whenComplete((v, e) -> stage.complete(made[2]));
        assertThat(f.cancel(true)).isTrue();
        assertThat(stage.join()).isSameAs(made[2]);
        assertThat(f).isCancelled();
        assertThat(made).allMatch(Tensor::isClosed);
        assertThat(device.usedBytes()).isZero();
        assertThatThrownBy(f::join).isInstanceOf(CancellationException.class);
    }

    @Test
    void aCancelBeforeTheScopeCommitsReleasesEverythingAndTheResultIsNeverDelivered() {
        CompletableFuture<Tensor> stage = new CompletableFuture<>();
        Tensor[] made = new Tensor[3];
        CompletableFuture<Tensor> f = scopeWith(stage, made);
        assertThat(f.cancel(false)).isTrue();
        assertThat(stage).as("cancelling f cancels the work").isCancelled();
        assertThat(made).allMatch(Tensor::isClosed);
        assertThat(device.usedBytes()).isZero();
        assertThat(f.complete(null)).isFalse();
        assertThat(f).isCancelled();
    }
}
