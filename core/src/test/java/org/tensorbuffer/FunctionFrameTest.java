package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class FunctionFrameTest {

    /**
     * A decode-like loop: per step a fixed-size hidden state (slot 0), attention scores growing with the position
     * (slot 1: pos + 1 floats) and logits (slot 2). Slots are reused; the growing slot moves to a larger block only
     * when it no longer fits its size class (16, 32, 48 floats = 64, 128, 192 B), and the outgrown block is freed at
     * the end of the step, not before.
     */
    @Test
    void decodeLoopReusesSlotsAndDefersTheFreeOfOutgrownOccupants() {
        TestDevice dev = new TestDevice("frame");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE);
             FunctionFrame frame = new FunctionFrame(ctx, 3)) {
            int steps = 40;
            Tensor lastScores = null;
            for (int pos = 0; pos < steps; pos++) {
                if (pos == 16) {
                    lastScores.copyFrom(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
                }
                Tensor h = frame.slot(0, Shape.of(64), DType.F32);
                Tensor scores = frame.slot(1, Shape.of(pos + 1), DType.F32);
                Tensor logits = frame.slot(2, Shape.of(32), DType.F32);
                assertThat(frame.slot(0, Shape.of(64), DType.F32)).isSameAs(h);
                assertThat(scores.shape()).isEqualTo(Shape.of(pos + 1));
                if (pos == 16) {
                    // Outgrown: a new block; the previous occupant stays valid until the end of the call.
                    assertThat(scores.block()).isNotSameAs(lastScores.block());
                    assertThat(lastScores.isClosed()).isFalse();
                    assertThat(lastScores.toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                            13, 14, 15);
                    assertThat(frame.deferredCount()).isEqualTo(1);
                } else if (pos > 0 && pos != 32) {
                    assertThat(scores.block()).isSameAs(lastScores.block());
                }
                assertThat(logits.isClosed()).isFalse();
                frame.endCall();
                if (pos > 0) {
                    assertThat(lastScores.isClosed()).isTrue();
                }
                lastScores = scores;
            }
            assertThat(frame.calls()).isEqualTo(steps);
            assertThat(frame.allocations()).isEqualTo(3 + 2); // first step, then at 17 and 33 floats
            assertThat(frame.blockReuses()).isEqualTo(steps - 1 - 2);
            assertThat(frame.sameTensorHits()).isEqualTo(steps + 2L * (steps - 1));
            // Live: 64 floats (256 B), 40 floats (160 B -> 192 B class), 32 floats (128 B).
            assertThat(ctx.pool().stats().liveBytes()).isEqualTo(256 + 192 + 128);
            assertThat(ctx.pool().stats().rawAllocations()).isEqualTo(5);
        }
        assertThat(dev.usedBytes()).isZero();
    }

    @Test
    void smallerShapeReusesTheBlockAndSlotTensorsIgnoreScopes() {
        TestDevice dev = new TestDevice("frame2");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.REACTIVE)) {
            FunctionFrame frame = new FunctionFrame(ctx, 1);
            Tensor small;
            Tensor big;
            try (MemoryScope scope = MemoryScope.open()) {
                big = frame.slot(0, Shape.of(100), DType.F32);
                small = frame.slot(0, Shape.of(10, 10), DType.F32);
                assertThat(small.block()).isSameAs(big.block());
                assertThat(frame.blockReuses()).isEqualTo(1);
                assertThat(scope.tensorCount()).isZero();
            }
            assertThat(small.isClosed()).isFalse();
            assertThat(big.isClosed()).isFalse();
            frame.endCall();
            assertThat(big.isClosed()).isTrue();
            assertThat(small.toFloatArray()).hasSize(100);
            frame.close();
            assertThat(small.isClosed()).isTrue();
            assertThat(ctx.pool().stats().liveBytes()).isZero();
            assertThatThrownBy(() -> frame.slot(0, Shape.of(1), DType.F32)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("FunctionFrame is closed");
        }
    }

    @Test
    void badSlotsAreRefused() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("frame3"), AllocationStrategy.REACTIVE);
             FunctionFrame frame = new FunctionFrame(ctx, 2)) {
            assertThatThrownBy(() -> frame.slot(2, Shape.of(1), DType.F32))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessage("slot 2 of a frame with 2 slots");
            assertThatThrownBy(() -> frame.slot(-1, Shape.of(1), DType.F32))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> new FunctionFrame(ctx, -1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("numSlots -1 is negative");
        }
    }
}
