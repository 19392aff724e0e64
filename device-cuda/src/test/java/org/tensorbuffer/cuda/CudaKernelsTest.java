package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.tensorbuffer.cuda.CudaTestSupport.download;
import static org.tensorbuffer.cuda.CudaTestSupport.random;
import static org.tensorbuffer.cuda.CudaTestSupport.upload;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;

/**
 * Every CUDA kernel against a plain-loop reference ({@link Reference}), for F32 and F64, on random inputs, with the
 * output poisoned first so that unwritten elements show. Skipped with the provider's reason where CUDA is unavailable.
 */
class CudaKernelsTest {
    private static CudaDevice device;
    private static Kernels kernels;
    private final Random rnd = new Random(42);

    @BeforeAll
    static void open() {
        if (CudaTestSupport.available()) {
            device = new CudaDevice(0, AllocMode.SYNC);
            kernels = device.kernels();
        }
    }

    @BeforeEach
    void requireCuda() {
        CudaTestSupport.assumeCuda();
    }

    @AfterAll
    static void close() {
        if (device != null) {
            device.close();
        }
    }

    private static double tolerance(DType t) {
        return t == DType.F32 ? 2e-5 : 1e-11;
    }

    private static void assertClose(DType t, double[] expected, double[] actual) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            double tol = tolerance(t) * Math.max(1, Math.abs(expected[i]));
            assertThat(Math.abs(actual[i] - expected[i]))
                    .as("element %d: expected %s, got %s", i, expected[i], actual[i])
                    .isLessThanOrEqualTo(tol);
        }
    }

    private static DeviceBuffer poisoned(DType t, int n) {
        DeviceBuffer b = device.allocate((long) n * t.byteSize(), 256);
        device.fill(b, 0, n, t, Double.NaN);
        return b;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void binaryMatchesJavaArithmeticExactly(DType t) {
        int n = 100_003;
        double[] a = random(rnd, t, n, 10);
        double[] b = random(rnd, t, n, 10);
        DeviceBuffer da = upload(device, t, a);
        DeviceBuffer db = upload(device, t, b);
        DeviceBuffer out = poisoned(t, n);
        for (BinaryOp op : BinaryOp.values()) {
            kernels.binary(op, t, da, 0, db, 0, out, 0, n);
            double[] got = download(device, t, out, 0, n);
            for (int i = 0; i < n; i++) {
                double e = switch (op) {
                    case ADD -> a[i] + b[i];
                    case SUB -> a[i] - b[i];
                    case MUL -> a[i] * b[i];
                    case DIV -> a[i] / b[i];
                };
                assertThat(got[i]).as("%s element %d", op, i).isEqualTo(Reference.round(t == DType.F32, e));
            }
        }
        // out aliasing a exactly
        kernels.binary(BinaryOp.ADD, t, da, 0, db, 0, da, 0, n);
        double[] got = download(device, t, da, 0, n);
        assertThat(got[7]).isEqualTo(Reference.round(t == DType.F32, a[7] + b[7]));
        device.free(da);
        device.free(db);
        device.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void scaleAndSiluWithOffsets(DType t) {
        int n = 5000;
        double[] x = random(rnd, t, n + 3, 8);
        DeviceBuffer dx = upload(device, t, x);
        DeviceBuffer out = poisoned(t, n + 1);
        kernels.scale(t, dx, 3L * t.byteSize(), out, t.byteSize(), n, -0.375);
        double[] got = download(device, t, out, 1, n);
        for (int i = 0; i < n; i++) {
            assertThat(got[i]).isEqualTo(Reference.round(t == DType.F32, -0.375 * x[i + 3]));
        }
        kernels.silu(t, dx, 3L * t.byteSize(), out, t.byteSize(), n);
        double[] tail = new double[n];
        System.arraycopy(x, 3, tail, 0, n);
        assertClose(t, Reference.silu(t == DType.F32, tail), download(device, t, out, 1, n));
        device.free(dx);
        device.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void rmsnormRows(DType t) {
        int rows = 3;
        int cols = 777;
        double[] x = random(rnd, t, rows * cols, 3);
        double[] w = random(rnd, t, cols, 2);
        DeviceBuffer dx = upload(device, t, x);
        DeviceBuffer dw = upload(device, t, w);
        DeviceBuffer out = poisoned(t, rows * cols);
        kernels.rmsnorm(t, dx, 0, dw, 0, out, 0, rows, cols, 1e-5);
        assertClose(t, Reference.rmsnorm(t == DType.F32, x, w, rows, cols, 1e-5),
                download(device, t, out, 0, rows * cols));
        device.free(dx);
        device.free(dw);
        device.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void softmaxZeroesColumnsPastValid(DType t) {
        int rows = 4;
        int cols = 600;
        int valid = 517;
        double[] x = random(rnd, t, rows * cols, 20);
        DeviceBuffer dx = upload(device, t, x);
        DeviceBuffer out = poisoned(t, rows * cols);
        kernels.softmax(t, dx, 0, out, 0, rows, cols, valid);
        double[] got = download(device, t, out, 0, rows * cols);
        assertClose(t, Reference.softmax(t == DType.F32, x, rows, cols, valid), got);
        assertThat(got[cols - 1]).isZero();
        // in place
        kernels.softmax(t, dx, 0, dx, 0, rows, cols, valid);
        assertClose(t, got, download(device, t, dx, 0, rows * cols));
        device.free(dx);
        device.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void ropeAsRunC(DType t) {
        int dim = 96;
        int headSize = 32;
        int pos = 37;
        double[] x = random(rnd, t, dim, 1);
        DeviceBuffer dx = upload(device, t, x);
        DeviceBuffer out = poisoned(t, dim);
        kernels.rope(t, dx, 0, out, 0, dim, headSize, pos);
        assertClose(t, Reference.rope(t == DType.F32, x, headSize, pos), download(device, t, out, 0, dim));
        device.free(dx);
        device.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void groupedQueryAttention(DType t) {
        int nHeads = 8;
        int nKvHeads = 2;
        int headSize = 16;
        int seqLen = 300;
        int pos = 299;
        double[] q = random(rnd, t, nHeads * headSize, 1);
        double[] k = random(rnd, t, seqLen * nKvHeads * headSize, 1);
        double[] v = random(rnd, t, seqLen * nKvHeads * headSize, 1);
        DeviceBuffer dq = upload(device, t, q);
        DeviceBuffer dk = upload(device, t, k);
        DeviceBuffer dv = upload(device, t, v);
        DeviceBuffer att = poisoned(t, nHeads * seqLen);
        DeviceBuffer out = poisoned(t, nHeads * headSize);
        kernels.attention(t, dq, 0, dk, 0, dv, 0, att, 0, seqLen, out, 0, nHeads, nKvHeads, headSize, pos);
        double[][] ref = Reference.attention(t == DType.F32, q, k, v, seqLen, nHeads, nKvHeads, headSize, pos);
        assertClose(t, ref[0], download(device, t, out, 0, nHeads * headSize));
        double[] gotAtt = download(device, t, att, 0, nHeads * seqLen);
        for (int h = 0; h < nHeads; h++) {
            for (int s = 0; s <= pos; s++) {
                assertThat(Math.abs(gotAtt[h * seqLen + s] - ref[1][h * seqLen + s]))
                        .isLessThanOrEqualTo(tolerance(t));
            }
        }
        for (DeviceBuffer b : new DeviceBuffer[] {dq, dk, dv, att, out}) {
            device.free(b);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void argmaxFirstOfTiesIgnoringNaN(DType t) {
        int n = 1_000_003;
        double[] x = random(rnd, t, n, 1);
        x[123_456] = 5;
        x[987_654] = 5;
        x[10] = Double.NaN;
        DeviceBuffer dx = upload(device, t, x);
        assertThat(kernels.argmax(t, dx, 0, n)).isEqualTo(Reference.argmax(x)).isEqualTo(123_456);
        // offset: the window starts after the first maximum
        assertThat(kernels.argmax(t, dx, 200_000L * t.byteSize(), n - 200_000)).isEqualTo(987_654 - 200_000);
        device.fill(dx, 0, 1000, t, Double.NaN);
        assertThat(kernels.argmax(t, dx, 0, 1000)).isZero();
        device.free(dx);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void reduceSumShortAndLongRows(DType t) {
        for (int[] dims : new int[][] {{1000, 7}, {5, 10_000}, {3, 1}}) {
            int outer = dims[0];
            int inner = dims[1];
            double[] x = random(rnd, t, outer * inner, 1);
            DeviceBuffer dx = upload(device, t, x);
            DeviceBuffer out = poisoned(t, outer);
            kernels.reduceSum(t, dx, 0, out, 0, outer, inner);
            double[] ref = new double[outer];
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    ref[o] += x[o * inner + i];
                }
            }
            double[] got = download(device, t, out, 0, outer);
            for (int o = 0; o < outer; o++) {
                assertThat(Math.abs(got[o] - ref[o])).isLessThanOrEqualTo(tolerance(t) * Math.sqrt(inner) * 10);
            }
            device.free(dx);
            device.free(out);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmAllTransposesAndBetaZeroIgnoresNaN(DType t) {
        int m = 37;
        int n = 53;
        int k = 29;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                int lda = (ta ? m : k) + 3;
                int ldb = (tb ? k : n) + 1;
                int ldc = n + 2;
                double[] a = random(rnd, t, (ta ? k : m) * lda, 1);
                double[] b = random(rnd, t, (tb ? n : k) * ldb, 1);
                double[] c = random(rnd, t, m * ldc, 1);
                DeviceBuffer da = upload(device, t, a);
                DeviceBuffer db = upload(device, t, b);
                DeviceBuffer dc = upload(device, t, c);
                kernels.gemm(t, ta, tb, m, n, k, 1.5, da, 0, lda, db, 0, ldb, -0.5, dc, 0, ldc);
                double[] ref = c.clone();
                Reference.gemm(ta, tb, m, n, k, 1.5, a, 0, lda, b, 0, ldb, -0.5, ref, 0, ldc);
                assertGemm(t, ref, download(device, t, dc, 0, m * ldc), m, n, ldc, k);
                device.fill(dc, 0, (long) m * ldc, t, Double.NaN);
                kernels.gemm(t, ta, tb, m, n, k, 1.0, da, 0, lda, db, 0, ldb, 0.0, dc, 0, ldc);
                double[] ref0 = new double[m * ldc];
                Reference.gemm(ta, tb, m, n, k, 1.0, a, 0, lda, b, 0, ldb, 0.0, ref0, 0, ldc);
                assertGemm(t, ref0, download(device, t, dc, 0, m * ldc), m, n, ldc, k);
                device.free(da);
                device.free(db);
                device.free(dc);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void stridedBatchedGemmWithBroadcastB(DType t) {
        int batch = 5;
        int m = 8;
        int n = 6;
        int k = 4;
        double[] a = random(rnd, t, batch * m * k, 1);
        double[] b = random(rnd, t, k * n, 1);
        DeviceBuffer da = upload(device, t, a);
        DeviceBuffer db = upload(device, t, b);
        DeviceBuffer dc = poisoned(t, batch * m * n);
        kernels.gemmStridedBatched(t, false, false, m, n, k, 1, da, 0, k, (long) m * k, db, 0, n, 0, 0, dc, 0, n,
                (long) m * n, batch);
        double[] ref = new double[batch * m * n];
        for (int z = 0; z < batch; z++) {
            Reference.gemm(false, false, m, n, k, 1, a, z * m * k, k, b, 0, n, 0, ref, z * m * n, n);
        }
        assertGemm(t, ref, download(device, t, dc, 0, batch * m * n), batch * m, n, n, k);
        device.free(da);
        device.free(db);
        device.free(dc);
    }

    private static void assertGemm(DType t, double[] ref, double[] got, int rows, int n, int ldc, int k) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                double e = ref[i * ldc + j];
                assertThat(Math.abs(got[i * ldc + j] - e)).as("C[%d][%d]", i, j)
                        .isLessThanOrEqualTo(tolerance(t) * k * Math.max(1, Math.abs(e)));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void stridedCopyTransposeOfEveryType(DType t) {
        int es = t.byteSize();
        long[] shape = {3, 4, 5};
        long[] dims = {5, 4, 3}; // source is 5x4x3 row-major; view is its full transpose
        int total = 60;
        byte[] src = new byte[total * es];
        rnd.nextBytes(src);
        DeviceBuffer ds = device.allocate(src.length, 256);
        device.copyFromHost(MemorySegment.ofArray(src), 0, ds, 0, src.length);
        DeviceBuffer dd = device.allocate(src.length, 256);
        kernels.stridedCopy(t, ds, 0, shape, new long[] {1, dims[2], dims[2] * dims[1]}, dd, 0);
        byte[] got = CudaTestSupport.bytes(device, dd, 0, src.length);
        int o = 0;
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 4; j++) {
                for (int l = 0; l < 5; l++) {
                    int s = (int) (i * 1 + j * dims[2] + l * dims[2] * dims[1]);
                    for (int b = 0; b < es; b++) {
                        assertThat(got[o * es + b]).isEqualTo(src[s * es + b]);
                    }
                    o++;
                }
            }
        }
        device.free(ds);
        device.free(dd);
    }

    @Test
    void stridedCopyBroadcastDiagonalAndRankEight() {
        DType t = DType.F64;
        double[] x = random(rnd, t, 16, 1);
        DeviceBuffer dx = upload(device, t, x);
        DeviceBuffer out = poisoned(t, 256);
        // diagonal of the 4x4 matrix, broadcast over a new leading axis of 3
        kernels.stridedCopy(t, dx, 0, new long[] {3, 4}, new long[] {0, 5}, out, 0);
        double[] got = download(device, t, out, 0, 12);
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < 4; i++) {
                assertThat(got[r * 4 + i]).isEqualTo(x[i * 5]);
            }
        }
        // rank 8 that cannot be merged: a 2^8 hypercube whose first axis is the fastest in memory
        double[] y = random(rnd, t, 256, 1);
        DeviceBuffer dy = upload(device, t, y);
        long[] shape = {2, 2, 2, 2, 2, 2, 2, 2};
        long[] strides = new long[8];
        for (int d = 0; d < 8; d++) {
            strides[d] = 1L << d;
        }
        assertThat(CudaKernels.mergeAxes(shape, strides)).hasSize(8);
        kernels.stridedCopy(t, dy, 0, shape, strides, out, 0);
        double[] all = download(device, t, out, 0, 256);
        for (int i = 0; i < 256; i++) {
            int off = 0;
            for (int d = 0; d < 8; d++) {
                off += ((i >> (7 - d)) & 1) * strides[d];
            }
            assertThat(all[i]).isEqualTo(y[off]);
        }
        device.free(dy);
        device.free(dx);
        device.free(out);
    }

    @Test
    void unsupportedTypeAndBadRangesAreRejected() {
        DeviceBuffer b = device.allocate(64, 256);
        assertThatThrownBy(() -> kernels.silu(DType.I32, b, 0, b, 0, 4))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("int32");
        assertThatThrownBy(() -> kernels.scale(DType.F32, b, 0, b, 0, 17, 2))
                .isInstanceOf(IndexOutOfBoundsException.class);
        device.free(b);
    }
}
