package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * The float32 matrix-vector path ({@link GemvF32}, rows split over the kernels' threads): {@code W x} as
 * {@code gemm(m=rows, n=1, k)} and {@code x^T W^T} as {@code gemm(m=1, n=rows, k, transB)}, with row counts that are
 * not multiples of four and lengths that are not multiples of the vector length, one and three threads, against a
 * float64 reference (each row's sum within a few float32 ulps of the row's magnitude); with {@code beta} the old
 * {@code y} is added; three threads give one thread's bits (each row is computed by the same code either way).
 */
class ThreadedGemvTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;

    @ParameterizedTest
    @CsvSource({"9, 37", "64, 64", "131, 37", "1030, 33", "513, 288"})
    void matchesFloat64AndThreadsGiveTheSameBits(int rows, int k) {
        assertThat(rows * k > Gemm.SMALL_WORK).isTrue();
        SplittableRandom rnd = new SplittableRandom(rows * 31L + k);
        double[] w = new double[rows * k];
        double[] x = new double[k];
        double[] y0 = new double[rows];
        NativeFixture.fillUniform(rnd, w, x, y0);
        CpuKernels one = new CpuKernels(new CpuKernels().gemmImplementation(), 1);
        CpuKernels three = new CpuKernels(new CpuKernels().gemmImplementation(), 3);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bw = f.buffer(DType.F32, w);
            DeviceBuffer bx = f.buffer(DType.F32, x);
            double[][] results = new double[4][];
            int r = 0;
            for (CpuKernels kern : new CpuKernels[] {one, three}) {
                DeviceBuffer y = f.buffer(DType.F32, y0);
                // y = 2 * W x + 0.5 * y0
                kern.gemm(DType.F32, false, false, rows, 1, k, 2.0, bw, 0, k, bx, 0, 1, 0.5, y, 0, 1);
                results[r++] = f.read(DType.F32, y, rows);
                DeviceBuffer yt = f.nans(DType.F32, rows);
                // y^T = x^T W^T (beta 0: the NaNs are not read)
                kern.gemm(DType.F32, false, true, 1, rows, k, 1.0, bx, 0, k, bw, 0, k, 0.0, yt, 0, rows);
                results[r++] = f.read(DType.F32, yt, rows);
            }
            for (int i = 0; i < rows; i++) {
                double[] dm = rowDot(w, x, i, k);
                double dot = dm[0];
                double mag = dm[1];
                double tol = 4 * Math.ulp((float) mag) * Math.sqrt(k) + 1e-30;
                assertThat(results[0][i]).as("row %d of 2 W x + 0.5 y", i)
                        .isCloseTo(2 * dot + 0.5 * y0[i], Offset.offset(2 * tol + Math.ulp((float) y0[i])));
                assertThat(results[1][i]).as("row %d of x^T W^T", i).isCloseTo(dot, Offset.offset(tol));
            }
            assertThat(results[2]).isEqualTo(results[0]);
            assertThat(results[3]).isEqualTo(results[1]);
        }
    }
    /**
     * The Vector API GEMV ({@code tensorbuffer.cpu.gemm=java}) on rows of at least 192 elements: contiguous rows of a
     * multiple of 32 elements are read as one stream ({@code GemvF32.flat}), other rows of 192 to 384 one at a time
     * ({@code GemvF32.sequential}), with lengths that leave an odd vector and a scalar tail, and 191/385 (four rows at
     * a time): each row within the float64 tolerance, three threads give one thread's bits, and for lengths of 192
     * to 384 the same rows stored with a gap after each ({@code ld = k + 5}: the one-row loop) give the stream's bits.
     */
    @ParameterizedTest
    @CsvSource({"97, 192", "130, 200", "64, 288", "33, 384", "21, 383", "40, 191", "40, 385", "77, 512", "9, 1376"})
    void wideRowsMatchFloat64(int rows, int k) {
        SplittableRandom rnd = new SplittableRandom(rows * 7L + k);
        double[] w = new double[rows * k];
        double[] x = new double[k];
        NativeFixture.fillUniform(rnd, w, x);
        int ld = k + 5;
        double[] padded = new double[rows * ld];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(w, i * k, padded, i * ld, k);
        }
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bw = f.buffer(DType.F32, w);
            DeviceBuffer bp = f.buffer(DType.F32, padded);
            DeviceBuffer bx = f.buffer(DType.F32, x);
            double[][] results = new double[3][];
            int r = 0;
            for (int threads : new int[] {1, 3}) {
                DeviceBuffer y = f.nans(DType.F32, rows);
                new CpuKernels(Gemm.of(Gemm.Mode.JAVA), threads)
                        .gemm(DType.F32, false, false, rows, 1, k, 1.0, bw, 0, k, bx, 0, 1, 0.0, y, 0, 1);
                results[r++] = f.read(DType.F32, y, rows);
            }
            DeviceBuffer y = f.nans(DType.F32, rows);
            new CpuKernels(Gemm.of(Gemm.Mode.JAVA), 1)
                    .gemm(DType.F32, false, false, rows, 1, k, 1.0, bp, 0, ld, bx, 0, 1, 0.0, y, 0, 1);
            results[2] = f.read(DType.F32, y, rows);
            for (int i = 0; i < rows; i++) {
                double[] dm = rowDot(w, x, i, k);
                double tol = 4 * Math.ulp((float) dm[1]) * Math.sqrt(k) + 1e-30;
                assertThat(results[0][i]).as("row %d", i).isCloseTo(dm[0], Offset.offset(tol));
                assertThat(results[2][i]).as("row %d, ld %d", i, ld).isCloseTo(dm[0], Offset.offset(tol));
            }
            assertThat(results[1]).isEqualTo(results[0]);
            if (k >= GemvF32.SEQUENTIAL_MIN_K && k <= GemvF32.SEQUENTIAL_MAX_K) {
                assertThat(results[2]).as("one row at a time, ld %d", ld).isEqualTo(results[0]);
            }
        }
    }

    /**
     * With OpenBLAS, the product's row blocks (cut below OpenBLAS's own threading threshold, on one thread or split
     * over three) give the bits of {@code cblas_sgemv} called on every four rows apart: each row's sum does not
     * depend on the block it falls in. When OpenBLAS has threads, rows too long for calls of
     * {@link CpuKernels#MIN_BLAS_GEMV_QUADS} groups of four below the threshold take the Vector API GEMV ({@code java}
     * mode's bits) on every thread count, as do matrices that {@link GemvChoice} gives the Vector API (on an AMD CPU,
     * from {@link GemvChoice#MIN_ELEMENTS} elements); that GEMV is within the float64 tolerance of OpenBLAS. (Run with and without {@code OPENBLAS_NUM_THREADS=1} to cover both.)
     */
    @ParameterizedTest
    @CsvSource({"131, 37", "1030, 33", "513, 288", "301, 3000", "32000, 64", "700, 172"})
    void openBlasBlocksGiveTheBitsOfFourRowCalls(int rows, int k) {
        Assumptions.assumeTrue(OpenBlas.load().isPresent(), "OpenBLAS not installed");
        OpenBlas blas = OpenBlas.load().orElseThrow();
        SplittableRandom rnd = new SplittableRandom(rows * 17L + k);
        double[] w = new double[rows * k];
        double[] x = new double[k];
        NativeFixture.fillUniform(rnd, w, x);
        CpuKernels[] kernels = {
            new CpuKernels(Gemm.of(Gemm.Mode.AUTO), 1), new CpuKernels(Gemm.of(Gemm.Mode.AUTO), 3),
            new CpuKernels(Gemm.of(Gemm.Mode.JAVA), 1)
        };
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bw = f.buffer(DType.F32, w);
            DeviceBuffer bx = f.buffer(DType.F32, x);
            double[][] results = new double[kernels.length + 1][];
            for (int r = 0; r < kernels.length; r++) {
                DeviceBuffer y = f.nans(DType.F32, rows);
                kernels[r].gemm(DType.F32, false, false, rows, 1, k, 1.0, bw, 0, k, bx, 0, 1, 0.0, y, 0, 1);
                results[r] = f.read(DType.F32, y, rows);
            }
            DeviceBuffer y = f.nans(DType.F32, rows);
            long wa = bw.address();
            long ya = y.address();
            for (int i = 0; i < rows; i += 4) {
                blas.sgemvRows(Math.min(4, rows - i), k, 1f, wa + (long) i * k * 4, k, bx.address(), 1, 0f,
                        ya + i * 4L, 1);
            }
            results[3] = f.read(DType.F32, y, rows);
            boolean direct = blas.threads() != 1 && CpuKernels.SGEMV_KERNEL && blas.hasSgemvKernel();
            boolean blasRows = !GemvChoice.fromSystemProperty().java((long) rows * k)
                    && (direct || CpuKernels.blasGemvCallRows(blas, k) > 0);
            assertThat(results[0]).isEqualTo(blasRows ? results[3] : results[2]);
            assertThat(results[1]).isEqualTo(results[0]);
            for (int i = 0; i < rows; i++) {
                double mag = 0;
                for (int p = 0; p < k; p++) {
                    mag += Math.abs(w[i * k + p] * x[p]);
                }
                assertThat(results[2][i]).as("row %d, Vector API against OpenBLAS", i)
                        .isCloseTo(results[3][i], Offset.offset(8 * Math.ulp((float) mag) * Math.sqrt(k) + 1e-30));
            }
        }
    }

    /**
     * OpenBLAS's {@code sgemv_t} kernel called directly ({@link OpenBlas#sgemvKernelRows}, the path of the split GEMV
     * when OpenBLAS has threads) gives the bits of {@code cblas_sgemv} on four-row calls, over the whole matrix and
     * over blocks starting at multiples of four, with {@code beta} 0 (NaNs in {@code y} not read) and 1 (added).
     */
    @ParameterizedTest
    @CsvSource({"131, 37", "513, 288", "288, 288", "768, 288", "288, 768", "1376, 512", "301, 3000", "32000, 64"})
    void sgemvKernelGivesTheBitsOfCblasSgemv(int rows, int k) {
        Assumptions.assumeTrue(OpenBlas.load().isPresent(), "OpenBLAS not installed");
        OpenBlas blas = OpenBlas.load().orElseThrow();
        Assumptions.assumeTrue(blas.hasSgemvKernel(), blas.sgemvKernelName());
        SplittableRandom rnd = new SplittableRandom(rows * 13L + k);
        double[] w = new double[rows * k];
        double[] x = new double[k];
        double[] y0 = new double[rows];
        NativeFixture.fillUniform(rnd, w, x, y0);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bw = f.buffer(DType.F32, w);
            DeviceBuffer bx = f.buffer(DType.F32, x);
            long wa = bw.address();
            long xa = bx.address();
            for (float beta : new float[] {0f, 1f}) {
                DeviceBuffer ref = beta == 0 ? f.nans(DType.F32, rows) : f.buffer(DType.F32, y0);
                for (int i = 0; i < rows; i += 4) {
                    blas.sgemvRows(Math.min(4, rows - i), k, 0.5f, wa + (long) i * k * 4, k, xa, 1, beta,
                            ref.address() + i * 4L, 1);
                }
                DeviceBuffer whole = beta == 0 ? f.nans(DType.F32, rows) : f.buffer(DType.F32, y0);
                blas.sgemvKernelRows(rows, k, 0.5f, wa, k, xa, 1, beta, whole.address(), 1);
                DeviceBuffer blocks = beta == 0 ? f.nans(DType.F32, rows) : f.buffer(DType.F32, y0);
                for (int i = 0, n; i < rows; i += n) {
                    n = Math.min(rows - i, 4 * (1 + (i / 4) % 7));
                    blas.sgemvKernelRows(n, k, 0.5f, wa + (long) i * k * 4, k, xa, 1, beta,
                            blocks.address() + i * 4L, 1);
                }
                double[] expected = f.read(DType.F32, ref, rows);
                assertThat(f.read(DType.F32, whole, rows)).as("beta %s, one call", beta).isEqualTo(expected);
                assertThat(f.read(DType.F32, blocks, rows)).as("beta %s, blocks", beta).isEqualTo(expected);
                for (int i = 0; i < rows; i++) {
                    double[] dm = rowDot(w, x, i, k);
                    double dot = dm[0];
                    double mag = dm[1];
                    double want = 0.5 * dot + (beta == 0 ? 0 : y0[i]);
                    assertThat(expected[i]).as("row %d", i)
                            .isCloseTo(want, Offset.offset(8 * Math.ulp((float) mag) * Math.sqrt(k) + 2e-7));
                }
            }
        }
    }

    /**
     * Row {@code i} of the row-major {@code [rows, k]} matrix {@code w} dotted with {@code x} in float64:
     * {@code {sum w[i,p] x[p], sum |w[i,p] x[p]|}} (the reference value and the magnitude its rounding bound scales with).
     */
    private static double[] rowDot(double[] w, double[] x, int i, int k) {
        double dot = 0;
        double mag = 0;
        for (int p = 0; p < k; p++) {
            dot += w[i * k + p] * x[p];
            mag += Math.abs(w[i * k + p] * x[p]);
        }
        return new double[] {dot, mag};
    }
}
