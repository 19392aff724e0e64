package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.KernelReference;

/** Elementwise ops, reductions, argmax and stridedCopy against plain-loop references; bad inputs. */
class CpuKernelsTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;
    private static final Kernels K = DEVICE.kernels();
    private static final DType[] FLOATS = {DType.F32, DType.F64};

    private static double round(DType t, double v) {
        return t == DType.F32 ? (float) v : v;
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryMatchesScalarArithmeticExactly(BinaryOp op) {
        for (DType t : FLOATS) {
            for (int n : new int[] {0, 1, 3, 37, 100}) { // below, at and above a vector length, with tails
                double[] a = NativeFixture.random(n, 1);
                double[] b = NativeFixture.random(n, 2);
                if (n > 0) {
                    b[0] = 0.0; // a division by zero gives +-inf as in IEEE arithmetic
                }
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    DeviceBuffer ba = f.buffer(t, a, 1);
                    DeviceBuffer bb = f.buffer(t, b);
                    DeviceBuffer out = f.nans(t, n + 2);
                    int es = t.byteSize();
                    K.binary(op, t, ba, es, bb, 0, out, 2L * es, n);
                    double[] got = f.read(t, out, n + 2);
                    assertThat(got[0]).isNaN(); // untouched before the range
                    for (int i = 0; i < n; i++) {
                        double x = round(t, a[i]);
                        double y = round(t, b[i]);
                        double e = switch (op) {
                            case ADD -> t == DType.F32 ? (float) x + (float) y : x + y;
                            case SUB -> t == DType.F32 ? (float) x - (float) y : x - y;
                            case MUL -> t == DType.F32 ? (float) x * (float) y : x * y;
                            case DIV -> t == DType.F32 ? (float) x / (float) y : x / y;
                        };
                        assertThat(got[i + 2]).as("%s %s [%d]", op, t, i).isEqualTo(e);
                    }
                    // out aliasing a exactly
                    K.binary(op, t, ba, es, bb, 0, ba, es, n);
                    assertThat(f.read(t, ba, 1, n)).containsExactly(Arrays.copyOfRange(got, 2, n + 2));
                }
            }
        }
    }

    @Test
    void scaleMatchesExactly() {
        for (DType t : FLOATS) {
            double[] x = NativeFixture.random(45, 3);
            try (NativeFixture f = new NativeFixture(DEVICE)) {
                DeviceBuffer b = f.buffer(t, x);
                DeviceBuffer out = f.nans(t, 45);
                K.scale(t, b, 0, out, 0, 45, -2.5);
                double[] got = f.read(t, out, 45);
                for (int i = 0; i < 45; i++) {
                    assertThat(got[i]).isEqualTo(round(t, -2.5 * round(t, x[i])));
                }
                K.scale(t, b, 0, b, 0, 45, 0.5);
                double[] half = f.read(t, b, 45);
                for (int i = 0; i < 45; i++) {
                    assertThat(half[i]).isEqualTo(round(t, 0.5 * round(t, x[i])));
                }
            }
        }
    }

    @Test
    void reduceSumMatchesDoubleLoop() {
        for (DType t : FLOATS) {
            for (long[] oi : new long[][] {{3, 5}, {4, 100}, {1, 1}, {7, 0}, {0, 9}, {2, 1000}}) {
                int outer = (int) oi[0];
                int inner = (int) oi[1];
                double[] x = NativeFixture.random(outer * inner, outer + inner);
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    DeviceBuffer src = f.buffer(t, x);
                    DeviceBuffer dst = f.nans(t, outer);
                    K.reduceSum(t, src, 0, dst, 0, outer, inner);
                    double[] got = f.read(t, dst, outer);
                    for (int o = 0; o < outer; o++) {
                        double s = 0;
                        for (int i = 0; i < inner; i++) {
                            s += round(t, x[o * inner + i]);
                        }
                        assertThat(got[o]).as("%s row %d of %dx%d", t, o, outer, inner)
                                .isCloseTo(s, Offset.offset(t == DType.F32 ? 1e-6 * (inner + 1) : 1e-13 * (inner + 1)));
                    }
                }
            }
        }
    }

    @Test
    void argmaxFirstMaximumAndNaNs() {
        double nan = Double.NaN;
        double inf = Double.POSITIVE_INFINITY;
        Object[][] cases = {
            {new double[] {1, 3, 2, 3}, 1L},            // first of equal maxima
            {new double[] {-5, -1, -7}, 1L},            // all negative
            {new double[] {nan, 2, nan, 5, 5}, 3L},     // NaN is never the maximum
            {new double[] {nan, nan, nan}, 0L},         // unless all are NaN
            {new double[] {2, nan}, 0L},
            {new double[] {-inf, -inf}, 0L},
            {new double[] {0.0, inf, 1e300}, 1L},
            {new double[] {7}, 0L},
            {new double[] {-0.0, 0.0}, 0L},             // -0 == 0: a tie, the first wins
        };
        for (DType t : FLOATS) {
            for (Object[] c : cases) {
                double[] v = (double[]) c[0];
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    DeviceBuffer b = f.buffer(t, v, 2);
                    assertThat(K.argmax(t, b, 2L * t.byteSize(), v.length)).as("%s %s", t, Arrays.toString(v))
                            .isEqualTo((long) c[1]);
                }
            }
            // a long vector with the maximum late, as for 32000 logits
            double[] logits = NativeFixture.random(32000, 9);
            logits[31_999] = 2;
            logits[20_000] = 2;
            try (NativeFixture f = new NativeFixture(DEVICE)) {
                assertThat(K.argmax(t, f.buffer(t, logits), 0, logits.length)).isEqualTo(20_000);
            }
        }
    }

    // ---------------------------------------------------------------- stridedCopy

    private static void checkStridedCopy(DType t, int srcElems, long srcElemOffset, long[] shape, long[] strides) {
        int es = t.byteSize();
        byte[] src = new byte[srcElems * es];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) (i * 31 + 7);
        }
        byte[] expected = KernelReference.gather(src, es, srcElemOffset, shape, strides);
        try (Arena arena = Arena.ofConfined()) {
            DeviceBuffer s = DEVICE.allocate(src.length, 64);
            DeviceBuffer d = DEVICE.allocate(expected.length + 16, 64);
            try {
                DEVICE.copyFromHost(MemorySegment.ofArray(src), 0, s, 0, src.length);
                DEVICE.copyFromHost(MemorySegment.ofArray(new byte[expected.length + 16]), 0, d, 0,
                        expected.length + 16);
                K.stridedCopy(t, s, srcElemOffset * es, shape, strides, d, 8);
                MemorySegment host = arena.allocate(expected.length + 16);
                DEVICE.copyToHost(d, 0, host, 0, expected.length + 16);
                byte[] got = host.toArray(ValueLayout.JAVA_BYTE);
                assertThat(Arrays.copyOfRange(got, 8, 8 + expected.length))
                        .as("%s shape %s strides %s", t, Arrays.toString(shape), Arrays.toString(strides))
                        .isEqualTo(expected);
                assertThat(Arrays.copyOfRange(got, 0, 8)).containsOnly(0);
                assertThat(Arrays.copyOfRange(got, 8 + expected.length, got.length)).containsOnly(0);
            } finally {
                DEVICE.free(s);
                DEVICE.free(d);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void stridedCopyMatchesGatherReference(DType t) {
        checkStridedCopy(t, 24, 0, new long[] {24}, new long[] {1});                    // contiguous
        checkStridedCopy(t, 24, 0, new long[] {2, 3, 4}, new long[] {12, 4, 1});        // contiguous, 3-D
        checkStridedCopy(t, 24, 0, new long[] {4, 6}, new long[] {1, 4});               // transpose
        checkStridedCopy(t, 24, 0, new long[] {4, 3, 2}, new long[] {1, 8, 4});         // 3-D permutation
        checkStridedCopy(t, 40, 3, new long[] {3, 5}, new long[] {10, 1});              // rows with gaps
        checkStridedCopy(t, 40, 3, new long[] {3, 2, 5}, new long[] {10, 0, 1});        // broadcast middle axis
        checkStridedCopy(t, 10, 2, new long[] {4, 7}, new long[] {1, 0});               // broadcast inner axis
        checkStridedCopy(t, 25, 0, new long[] {5}, new long[] {6});                     // diagonal of 5x5
        checkStridedCopy(t, 10, 9, new long[] {10}, new long[] {-1});                   // reversed
        checkStridedCopy(t, 24, 0, new long[] {1, 4, 1, 6, 1}, new long[] {99, 6, 5, 1, 0}); // size-1 axes
        checkStridedCopy(t, 24, 5, new long[] {}, new long[] {});                       // a scalar
        checkStridedCopy(t, 30, 0, new long[] {2, 3, 5}, new long[] {15, 1, 3});        // inner strided
        checkStridedCopy(t, 24, 0, new long[] {3, 0, 2}, new long[] {1, 1, 1});         // empty
    }

    @Test
    void stridedCopyLargeTransposeMatchesReference() {
        checkStridedCopy(DType.F32, 300 * 200, 0, new long[] {200, 300}, new long[] {1, 200});
        checkStridedCopy(DType.F64, 64 * 64 * 4, 0, new long[] {64, 4, 64}, new long[] {4, 1, 256});
    }

    /**
     * Permutations of random shapes (up to 12 axes, sizes that leave remainders in the cache-blocked tiles, some
     * axes reversed or broadcast) against the plain-loop gather, for every element size.
     */
    @Test
    void stridedCopyRandomPermutationsMatchReference() {
        java.util.Random rnd = new java.util.Random(20261201);
        for (int trial = 0; trial < 200; trial++) {
            int rank = 2 + rnd.nextInt(trial < 20 ? 3 : 11);
            long[] dims = new long[rank];
            long total = 1;
            for (int a = 0; a < rank; a++) {
                dims[a] = rank > 6 ? 1 + rnd.nextInt(3) : 1 + rnd.nextInt(rank > 3 ? 9 : 90);
                total *= dims[a];
            }
            // Dense source in its own axis order, then an arbitrary permutation of the axes.
            long[] srcStrides = new long[rank];
            long p = 1;
            for (int a = rank - 1; a >= 0; a--) {
                srcStrides[a] = p;
                p *= dims[a];
            }
            Integer[] perm = new Integer[rank];
            for (int a = 0; a < rank; a++) {
                perm[a] = a;
            }
            java.util.Collections.shuffle(Arrays.asList(perm), rnd);
            long[] shape = new long[rank];
            long[] strides = new long[rank];
            long offset = 0;
            for (int a = 0; a < rank; a++) {
                shape[a] = dims[perm[a]];
                strides[a] = srcStrides[perm[a]];
                int kind = rnd.nextInt(10);
                if (kind == 0) { // reversed axis
                    offset += (shape[a] - 1) * strides[a];
                    strides[a] = -strides[a];
                } else if (kind == 1) { // broadcast axis
                    strides[a] = 0;
                }
            }
            DType t = DType.values()[rnd.nextInt(DType.values().length)];
            checkStridedCopy(t, (int) total, offset, shape, strides);
        }
    }

    @Test
    void stridedCopyRejectsBadInputs() {
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer b = f.buffer(DType.F32, new double[12]);
            DeviceBuffer out = f.nans(DType.F32, 12);
            assertThatThrownBy(() -> K.stridedCopy(DType.F32, b, 0, new long[] {3, 4}, new long[] {4}, out, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("axes");
            assertThatThrownBy(() -> K.stridedCopy(DType.F32, b, 0, new long[] {-3, 4}, new long[] {4, 1}, out, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
            assertThatThrownBy(() -> K.stridedCopy(DType.F32, b, 0, new long[] {4, 4}, new long[] {4, 1}, out, 0))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("src");
            assertThatThrownBy(() -> K.stridedCopy(DType.F32, b, 0, new long[] {3}, new long[] {-1}, out, 0))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> K.stridedCopy(DType.F64, b, 0, new long[] {6}, new long[] {1}, out, 8))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("dst");
        }
    }

    // ---------------------------------------------------------------- bad inputs

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "I32", "I64"})
    void unsupportedDtypesNameTheOpAndType(DType t) {
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer x = f.buffer(DType.F64, new double[64]);
            String dt = t.displayName();
            assertThatThrownBy(() -> K.binary(BinaryOp.ADD, t, x, 0, x, 0, x, 0, 4))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("binary ADD")
                    .hasMessageContaining(dt);
            assertThatThrownBy(() -> K.scale(t, x, 0, x, 0, 4, 2))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("scale " ).hasMessageContaining(dt);
            assertThatThrownBy(() -> K.silu(t, x, 0, x, 0, 4))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("silu").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.rmsnorm(t, x, 0, x, 0, x, 0, 1, 4, 1e-5))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("rmsnorm").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.softmax(t, x, 0, x, 0, 1, 4, 4))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("softmax").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.rope(t, x, 0, x, 0, 4, 4, 1))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("rope").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.attention(t, x, 0, x, 0, x, 0, x, 0, 1, x, 0, 1, 1, 4, 0))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("attention").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.argmax(t, x, 0, 4))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("argmax").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.reduceSum(t, x, 0, x, 0, 1, 4))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("reduceSum").hasMessageContaining(dt);
            assertThatThrownBy(() -> K.gemmStridedBatched(t, false, false, 1, 1, 1, 1, x, 0, 1, 0, x, 0, 1, 0, 0, x, 0,
                    1, 0, 1)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("gemm")
                    .hasMessageContaining(dt);
        }
    }

    @Test
    void outOfRangeAndBadShapesAreRejected() {
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer x = f.buffer(DType.F32, new double[16]);
            DeviceBuffer small = f.buffer(DType.F32, new double[4]);
            assertThatThrownBy(() -> K.binary(BinaryOp.MUL, DType.F32, x, 0, small, 0, x, 0, 16))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("binary MUL b");
            assertThatThrownBy(() -> K.scale(DType.F32, x, -4, x, 0, 2, 1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> K.softmax(DType.F32, x, 0, x, 0, 2, 4, 5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("validCols");
            assertThatThrownBy(() -> K.rope(DType.F32, x, 0, x, 0, 7, 4, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
            assertThatThrownBy(() -> K.rmsnorm(DType.F32, x, 0, small, 0, x, 0, 2, 8, 1e-5))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("weight");
            assertThatThrownBy(() -> K.attention(DType.F32, x, 0, x, 0, x, 0, x, 0, 2, x, 0, 3, 2, 2, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple");
            assertThatThrownBy(() -> K.attention(DType.F32, x, 0, x, 0, x, 0, x, 0, 1, x, 0, 2, 1, 2, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attStride");
            assertThatThrownBy(() -> K.argmax(DType.F32, x, 0, 0))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> K.binary(BinaryOp.ADD, DType.F32, x, 0, x, 0, x, 0, -1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
            try (CpuDevice other = new CpuDevice()) {
                // buffers of another CPU device instance are still host memory and usable
                DeviceBuffer o = other.allocate(64, 64);
                other.fill(o, 0, 16, DType.F32, 2);
                K.scale(DType.F32, o, 0, x, 0, 16, 3);
                assertThat(f.read(DType.F32, x, 16)).containsOnly(6.0);
                other.free(o);
            }
        }
    }
}
