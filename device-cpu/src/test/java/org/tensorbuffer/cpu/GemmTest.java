package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * GEMM of every implementation (plain small loops, the Vector API GEMM and OpenBLAS where present) against one plain
 * double-precision triple-loop reference.
 */
class GemmTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> s = Stream.builder();
        // Every transpose combination for sizes that cover the small path, edges of the micro-kernel and one KC
        // boundary; the two large shapes (several KC/MC/NC blocks, the parallel path) only untransposed and both
        // transposed, to keep the suite fast.
        int[][] sizes = {
            {1, 1, 1}, {2, 3, 4}, {8, 8, 8}, {3, 9, 5}, {16, 16, 16}, {5, 7, 1},  // small path
            {37, 45, 29}, {6, 33, 257}, {1, 70, 70}, {70, 1, 70}, {1, 1, 300}, {300, 1, 45}, {1, 200, 37},
            {3, 70, 1}, {70, 3, 1}, {1, 1000, 1}, {33, 47, 1}  // k == 1: the outer-product kernel, short and long rows
        };
        int[][] large = {{13, 1030, 7}, {80, 40, 700}, {1100, 1, 1000}};  // the last: parallel GEMV rows
        for (String impl : new String[] {"java", "auto"}) {
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                for (int[] sz : sizes) {
                    for (int tr = 0; tr < 4; tr++) {
                        // the Java GEMM is slow before the JIT compiles it: its mixed transposes on two shapes only
                        boolean mixed = tr == 1 || tr == 2;
                        if (impl.equals("java") && mixed && sz[0] != 37 && sz[0] != 3 && sz[2] != 257 && sz[0] != 1
                                && sz[1] != 1) {
                            continue;
                        }
                        s.add(Arguments.of(impl, t, tr >= 2, tr % 2 == 1, sz[0], sz[1], sz[2]));
                    }
                }
                for (int[] sz : large) {
                    s.add(Arguments.of(impl, t, false, false, sz[0], sz[1], sz[2]));
                    if (impl.equals("auto") || sz[0] == 13) { // cold Java GEMM: transposed only on the cheap one
                        s.add(Arguments.of(impl, t, true, true, sz[0], sz[1], sz[2]));
                    }
                }
            }
        }
        return s.build();
    }

    @ParameterizedTest(name = "{0} {1} tA={2} tB={3} m={4} n={5} k={6}")
    @MethodSource("cases")
    void gemmMatchesReference(String impl, DType t, boolean tA, boolean tB, int m, int n, int k) {
        CpuKernels kernels = new CpuKernels(Gemm.of(impl.equals("java") ? Gemm.Mode.JAVA : Gemm.Mode.AUTO));
        int aRows = tA ? k : m;
        int aCols = tA ? m : k;
        int bRows = tB ? n : k;
        int bCols = tB ? k : n;
        int lda = aCols + 3;
        int ldb = bCols + 1;
        int ldc = n + 2;
        double[] a = NativeFixture.random(aRows * lda, 1 + m);
        double[] b = NativeFixture.random(bRows * ldb, 2 + n);
        double[] c = NativeFixture.random(m * ldc, 3 + k);
        double alpha = 1.5;
        double beta = -0.5;
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            int pad = 5;
            DeviceBuffer ba = f.buffer(t, a, pad);
            DeviceBuffer bb = f.buffer(t, b, pad);
            DeviceBuffer bc = f.buffer(t, c, pad);
            long off = (long) pad * t.byteSize();
            kernels.gemm(t, tA, tB, m, n, k, alpha, ba, off, lda, bb, off, ldb, beta, bc, off, ldc);
            double[] got = f.read(t, bc, pad, m * ldc);
            double[] ref = reference(tA, tB, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc, t);
            assertClose(got, ref, t, k, m, n, ldc);
        }
    }

    static Stream<Arguments> smallVectorCases() {
        // whole 4-row x 4-vector tiles (64x64x64 in both types), partial row groups and partial vectors, n below one
        // vector, one row, one column
        int[][] sizes = {{64, 64, 64}, {13, 70, 17}, {5, 67, 9}, {4, 32, 3}, {7, 9, 11}, {1, 1, 1}, {3, 65, 2},
            {9, 130, 5}, {1, 40, 7}, {40, 1, 7}};
        return kernelCases(sizes);
    }

    /** The Vector API small-GEMM kernel itself, every transpose, padded leading dimensions, beta 0 over NaN. */
    @ParameterizedTest(name = "{0} tA={1} tB={2} m={3} n={4} k={5} beta={6}")
    @MethodSource("smallVectorCases")
    void smallVectorGemmMatchesReference(DType t, boolean tA, boolean tB, int m, int n, int k, double beta) {
        checkKernel(SmallVectorGemm::gemm, t, tA, tB, m, n, k, beta, 21);
    }

    static Stream<Arguments> narrowCases() {
        // one panel with whole and partial third vectors (float64: 17..24 columns; float32: 33..48), row groups of
        // eight and leftover rows, k above two blocks of a transposed A (64 rows) and below; several panels (81 and 45
        // columns, short k) with a partial last panel
        int[][] sizes = {{16, 21, 40}, {13, 24, 70}, {8, 17, 1}, {9, 40, 3}, {21, 33, 100}, {11, 48, 9}, {35, 81, 50},
            {17, 45, 11}, {3, 21, 5}};
        return kernelCases(sizes);
    }

    /** The narrow/short-k kernel itself, every transpose, padded leading dimensions, beta 0 over NaN. */
    @ParameterizedTest(name = "{0} tA={1} tB={2} m={3} n={4} k={5} beta={6}")
    @MethodSource("narrowCases")
    void narrowGemmMatchesReference(DType t, boolean tA, boolean tB, int m, int n, int k, double beta) {
        checkKernel(NarrowGemm::gemm, t, tA, tB, m, n, k, beta, 31);
    }

    /** The dispatch sends the narrow and short-k shapes to NarrowGemm, other shapes elsewhere. */
    @Test
    void narrowShapesAreDispatched() {
        assertThat(NarrowGemm.fits(true, 404, 21, 480)).isTrue();
        assertThat(NarrowGemm.fits(true, 59049, 81, 50)).isTrue();
        assertThat(NarrowGemm.fits(true, 7, 21, 480)).isFalse();
        assertThat(NarrowGemm.fits(true, 19, 19, 1265)).isFalse();
        assertThat(NarrowGemm.fits(true, 2185, 19, 19)).isFalse();
        assertThat(NarrowGemm.fits(true, 256, 256, 256)).isFalse();
        assertThat(NarrowGemm.fits(true, 59049, 81, 65)).isFalse();
        assertThat(NarrowGemm.fits(true, 404, 16, 480)).isFalse();
    }

    @Test
    void betaZeroDoesNotReadC() {
        for (String impl : new String[] {"java", "auto"}) {
            CpuKernels kernels = new CpuKernels(Gemm.of(impl.equals("java") ? Gemm.Mode.JAVA : Gemm.Mode.AUTO));
            // square (small path and blocked/OpenBLAS GEMM), one column and one row (the GEMV path)
            // and rank-1 products (k == 1) with short and long rows
            for (int[] mnk : new int[][] {{3, 3, 3}, {40, 40, 40}, {40, 1, 40}, {1, 40, 40}, {3, 3, 1}, {5, 40, 1}}) {
                int m = mnk[0];
                int n = mnk[1];
                int k = mnk[2];
                try (NativeFixture f = new NativeFixture(DEVICE)) {
                    double[] a = NativeFixture.random(m * k, 7);
                    double[] b = NativeFixture.random(k * n, 8);
                    DeviceBuffer ba = f.buffer(DType.F32, a);
                    DeviceBuffer bb = f.buffer(DType.F32, b);
                    DeviceBuffer bc = f.nans(DType.F32, (long) m * n);
                    kernels.gemm(DType.F32, false, false, m, n, k, 1, ba, 0, k, bb, 0, n, 0, bc, 0, n);
                    double[] got = f.read(DType.F32, bc, m * n);
                    double[] ref = reference(false, false, m, n, k, 1, a, 0, k, b, 0, n, 0, new double[m * n], 0, n,
                            DType.F32);
                    assertClose(got, ref, DType.F32, k, m, n, n);
                }
            }
        }
    }

    @Test
    void kZeroOrAlphaZeroScalesC() {
        CpuKernels kernels = new CpuKernels(Gemm.of(Gemm.Mode.AUTO));
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer c = f.buffer(DType.F64, new double[] {1, 2, 3, 4});
            DeviceBuffer nan = f.nans(DType.F64, 4);
            kernels.gemm(DType.F64, false, false, 2, 2, 0, 1, nan, 0, 1, nan, 0, 2, 3, c, 0, 2);
            assertThat(f.read(DType.F64, c, 4)).containsExactly(3, 6, 9, 12);
            kernels.gemm(DType.F64, false, false, 2, 2, 0, 1, nan, 0, 1, nan, 0, 2, 0, c, 0, 2);
            assertThat(f.read(DType.F64, c, 4)).containsExactly(0, 0, 0, 0);
        }
    }

    /** Every dtype, transpose pair and beta (0 over NaN, -0.5) for each {m, n, k} of {@code sizes}. */
    private static Stream<Arguments> kernelCases(int[][] sizes) {
        Stream.Builder<Arguments> s = Stream.builder();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int[] sz : sizes) {
                for (int tr = 0; tr < 4; tr++) {
                    for (double beta : new double[] {0, -0.5}) {
                        s.add(Arguments.of(t, tr >= 2, tr % 2 == 1, sz[0], sz[1], sz[2], beta));
                    }
                }
            }
        }
        return s.build();
    }

    /** A kernel's {@code gemm(f64, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)} on addresses. */
    @FunctionalInterface
    private interface AddressGemm {
        void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
                long b, int ldb, double beta, long c, int ldc);
    }

    /**
     * Runs {@code kernel} with alpha 1.5 on random operands with padded leading dimensions (C filled with NaN where
     * beta is 0: it must not be read) and compares with the triple-loop reference.
     */
    private static void checkKernel(AddressGemm kernel, DType t, boolean tA, boolean tB, int m, int n, int k,
            double beta, int seed) {
        int lda = (tA ? m : k) + 3;
        int ldb = (tB ? k : n) + 1;
        int ldc = n + 2;
        double[] a = NativeFixture.random((tA ? k : m) * lda, seed + m);
        double[] b = NativeFixture.random((tB ? n : k) * ldb, seed + 1 + n);
        double[] c = NativeFixture.random(m * ldc, seed + 2 + k);
        if (beta == 0) {
            for (int i = 0; i < m; i++) {
                java.util.Arrays.fill(c, i * ldc, i * ldc + n, Double.NaN); // must not be read
            }
        }
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer ba = f.buffer(t, a);
            DeviceBuffer bb = f.buffer(t, b);
            DeviceBuffer bc = f.buffer(t, c);
            kernel.gemm(t == DType.F64, tA, tB, m, n, k, 1.5, ba.address(), lda, bb.address(), ldb, beta,
                    bc.address(), ldc);
            double[] got = f.read(t, bc, m * ldc);
            double[] ref = reference(tA, tB, m, n, k, 1.5, a, 0, lda, b, 0, ldb, beta, c, 0, ldc, t);
            assertClose(got, ref, t, k, m, n, ldc);
        }
    }

    static Stream<Arguments> batchCases() {
        return Stream.of(
                Arguments.of("java", DType.F32, 3, 4, 5, false),
                Arguments.of("java", DType.F64, 20, 30, 40, true),
                Arguments.of("auto", DType.F32, 20, 30, 40, false),
                Arguments.of("auto", DType.F64, 2, 2, 2, true),
                Arguments.of("auto", DType.F32, 20, 30, 40, true),
                // k == 1 (the outer-product kernel): tiny matrices, long rows, a broadcast B
                Arguments.of("auto", DType.F64, 3, 3, 1, false),
                Arguments.of("auto", DType.F64, 1, 100, 1, false),
                Arguments.of("java", DType.F32, 7, 50, 1, true),
                // the Vector API small GEMM (Java mode): whole tiles, partial rows and vectors, a broadcast B
                Arguments.of("java", DType.F64, 64, 64, 64, false),
                Arguments.of("java", DType.F32, 13, 70, 17, true));
    }

    @ParameterizedTest(name = "{0} {1} m={2} n={3} k={4} broadcastB={5}")
    @MethodSource("batchCases")
    void stridedBatchedMatchesReference(String impl, DType t, int m, int n, int k, boolean broadcastB) {
        CpuKernels kernels = new CpuKernels(Gemm.of(impl.equals("java") ? Gemm.Mode.JAVA : Gemm.Mode.AUTO));
        int batch = 4;
        int lda = m + 1; // A stored transposed: k x m
        int ldb = n;
        int ldc = n;
        long strideA = (long) k * lda + 3;
        long strideB = broadcastB ? 0 : (long) k * ldb;
        long strideC = (long) m * ldc + 1;
        double[] a = NativeFixture.random((int) (strideA * batch), 11);
        double[] b = NativeFixture.random((int) (broadcastB ? k * ldb : strideB * batch), 12);
        double[] c = NativeFixture.random((int) (strideC * batch), 13);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer ba = f.buffer(t, a);
            DeviceBuffer bb = f.buffer(t, b);
            DeviceBuffer bc = f.buffer(t, c);
            kernels.gemmStridedBatched(t, true, false, m, n, k, 0.75, ba, 0, lda, strideA, bb, 0, ldb, strideB, 2.0,
                    bc, 0, ldc, strideC, batch);
            double[] got = f.read(t, bc, c.length);
            double[] ref = c.clone();
            for (int i = 0; i < batch; i++) {
                ref = reference(true, false, m, n, k, 0.75, a, (int) (i * strideA), lda, b, (int) (i * strideB), ldb,
                        2.0, ref, (int) (i * strideC), ldc, t);
            }
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("element %d", i).isCloseTo(ref[i],
                        org.assertj.core.data.Offset.offset(tolerance(t, k)));
            }
        }
    }

    @Test
    void badArgumentsAreRejected() {
        CpuKernels kernels = new CpuKernels(Gemm.of(Gemm.Mode.AUTO));
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer x = f.buffer(DType.F32, new double[16]);
            assertThatThrownBy(() -> kernels.gemm(DType.I32, false, false, 2, 2, 2, 1, x, 0, 2, x, 0, 2, 0, x, 0, 2))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("gemm")
                    .hasMessageContaining("int32");
            assertThatThrownBy(() -> kernels.gemm(DType.F32, false, false, 2, 2, 3, 1, x, 0, 2, x, 0, 2, 0, x, 0, 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lda");
            assertThatThrownBy(() -> kernels.gemm(DType.F32, false, false, -1, 2, 2, 1, x, 0, 2, x, 0, 2, 0, x, 0, 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
            assertThatThrownBy(() -> kernels.gemm(DType.F32, false, false, 4, 4, 4, 1, x, 0, 4, x, 4, 4, 0, x, 0, 4))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("gemm B");
            assertThatThrownBy(() -> kernels.gemmStridedBatched(DType.F32, false, false, 2, 2, 2, 1, x, 0, 2, 4,
                    x, 0, 2, 4, 0, x, 0, 2, 4, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void openBlasIsUsedWhenInstalled() {
        // Debian's libopenblas0 is installed on the build machines (see .ci/run); elsewhere this documents the fallback.
        Gemm auto = Gemm.of(Gemm.Mode.AUTO);
        if (OpenBlas.load().isPresent()) {
            assertThat(auto.usesOpenBlas()).isTrue();
            assertThat(auto.description()).startsWith("OpenBLAS (libopenblas");
            assertThat(Gemm.of(Gemm.Mode.OPENBLAS).usesOpenBlas()).isTrue();
        } else {
            assertThat(auto.description()).startsWith("Java Vector API");
            assertThat(OpenBlas.loadError()).contains("libopenblas");
            assertThatThrownBy(() -> Gemm.of(Gemm.Mode.OPENBLAS)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("OpenBLAS is unavailable");
        }
        assertThat(Gemm.of(Gemm.Mode.JAVA).usesOpenBlas()).isFalse();
    }

    static double tolerance(DType t, int k) {
        return t == DType.F32 ? 2e-6 * (k + 4) * 4 : 1e-13 * (k + 4);
    }

    private static void assertClose(double[] got, double[] ref, DType t, int k, int m, int n, int ldc) {
        double tol = tolerance(t, k);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < ldc; j++) {
                int at = i * ldc + j;
                if (j < n) {
                    assertThat(got[at]).as("C[%d][%d]", i, j).isCloseTo(ref[at],
                            org.assertj.core.data.Offset.offset(tol));
                } else {
                    // padding between rows (ld > n) is untouched
                    assertThat(got[at]).as("padding C[%d][%d]", i, j).isEqualTo(ref[at]);
                }
            }
        }
    }

    /** Plain double-precision triple loop; returns a copy of c with the product written; inputs rounded to t. */
    static double[] reference(boolean tA, boolean tB, int m, int n, int k, double alpha, double[] a, int aOff,
                              int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc,
                              DType t) {
        double[] out = c.clone();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = a[aOff + (tA ? p * lda + i : i * lda + p)];
                    double bv = b[bOff + (tB ? j * ldb + p : p * ldb + j)];
                    s += round(av, t) * round(bv, t);
                }
                int at = cOff + i * ldc + j;
                out[at] = alpha * s + (beta == 0 ? 0 : beta * round(c[at], t));
            }
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = round(out[i], t);
        }
        return out;
    }

    private static double round(double v, DType t) {
        return t == DType.F32 ? (float) v : v;
    }
}
