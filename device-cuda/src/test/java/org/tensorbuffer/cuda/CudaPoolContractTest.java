package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.IllegalReferenceCountException;
import org.tensorbuffer.memory.TensorBuffer;

/**
 * The pools' contract on real GPU memory: a released block is handed out again without a device call, data written
 * through a block survives until release, the raw allocator (of a {@code NONE} context) frees every block, and
 * closing a pool frees what it cached. Both allocation modes; skipped without CUDA.
 */
class CudaPoolContractTest {

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void bufferPoolReusesDeviceMemory(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode)) {
            int liveBefore = d.liveAllocations();
            try (BufferPool pool = BufferPool.of(d)) {
                Block b = pool.take(1000);
                long address = b.buffer().address();
                assertThat(address % d.minAlignment()).isZero();
                float[] data = {1, 2, 3, 4};
                d.copyFromHost(MemorySegment.ofArray(data), 0, b.buffer(), 0, 16);
                float[] back = new float[4];
                d.copyToHost(b.buffer(), 0, MemorySegment.ofArray(back), 0, 16);
                assertThat(back).containsExactly(data);
                b.release();
                assertThatThrownBy(b::release).isInstanceOf(IllegalReferenceCountException.class);
                Block again = pool.take(900); // same size class
                assertThat(again.buffer().address()).isEqualTo(address);
                again.release();
                assertThat(pool.stats().rawAllocations()).isEqualTo(1);
                assertThat(pool.stats().hits()).isEqualTo(1);
            }
            assertThat(d.liveAllocations()).isEqualTo(liveBefore);
        }
    }

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void rawAllocatorFreesEveryBlock(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode)) {
            int liveBefore = d.liveAllocations();
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.NONE)) {
                for (int i = 0; i < 100; i++) {
                    try (Tensor t = ctx.full(Shape.of(64L << (i % 10)), DType.F32, i)) {
                        assertThat(t.toFloatArray()[0]).isEqualTo((float) i);
                    }
                }
                assertThat(ctx.raw().rawAllocations()).isEqualTo(100);
                assertThat(ctx.raw().rawFrees()).isEqualTo(100);
            }
            assertThat(d.liveAllocations()).isEqualTo(liveBefore);
        }
    }

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void tensorBufferHandsOutReservedBlocks(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode)) {
            int liveBefore = d.liveAllocations();
            try (BufferPool pool = BufferPool.of(d); TensorBuffer tb = new TensorBuffer(pool)) {
                Shape s = Shape.of(32, 64);
                tb.reserve(s, DType.F32, 2);
                Block a = tb.take(s, DType.F32);
                Block b = tb.take(s, DType.F32);
                assertThat(a.buffer().address()).isNotEqualTo(b.buffer().address());
                d.fill(a.buffer(), 0, 32 * 64, DType.F32, 1);
                a.release();
                b.release();
                assertThat(tb.stats().hitRate()).isEqualTo(1.0);
            }
            assertThat(d.liveAllocations()).isEqualTo(liveBefore);
        }
    }
}
