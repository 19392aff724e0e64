package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * The batched-prefill kernels of the CPU device ({@link PrefillKernelsF32} through
 * {@link CpuKernels#causalAttention} and {@link CpuKernels#ropeRows}): causal attention in its GEMM form against a
 * float64 reference of run.c's attention row by row and against the one-row {@link CpuKernels#attention} kernel,
 * for blocks of one row up to all rows, partial last blocks, grouped-query heads, a start position inside the cache,
 * one and two threads and both GEMMs (OpenBLAS and the Vector API); RoPE over rows bit for bit against
 * {@link CpuKernels#rope} row by row.
 */
class PrefillKernelsTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;

    /** float64 reference of run.c's attention for each query row {@code r} at position {@code start + r}. */
    private static double[] reference(double[] q, double[] k, double[] v, int rows, int nHeads, int nKv, int hs,
                                      int start) {
        int dim = nHeads * hs;
        int kvDim = nKv * hs;
        double[] out = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            int pos = start + r;
            for (int h = 0; h < nHeads; h++) {
                int g = h / (nHeads / nKv);
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double d = 0;
                    for (int i = 0; i < hs; i++) {
                        d += q[r * dim + h * hs + i] * k[t * kvDim + g * hs + i];
                    }
                    s[t] = d / Math.sqrt(hs);
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) {
                    s[t] = Math.exp(s[t] - max);
                    sum += s[t];
                }
                for (int i = 0; i < hs; i++) {
                    double o = 0;
                    for (int t = 0; t <= pos; t++) {
                        o += s[t] / sum * v[t * kvDim + g * hs + i];
                    }
                    out[r * dim + h * hs + i] = o;
                }
            }
        }
        return out;
    }

    private static double[] asFloats(double[] a) {
        double[] f = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    @ParameterizedTest(name = "{0} heads over {1}, hs {2}, rows {3} from {4}, scratch {5} x P, {6} threads, {7}")
    @CsvSource({
        // nHeads, nKv, headSize, rows, start, blockFactor (attStride = factor * (start + rows)), threads, gemm
        "6, 6, 48, 70, 0, 1, 1, auto", // one query row per GEMM
        "6, 6, 48, 70, 0, 7, 1, auto", // blocks of 7 rows, growing while the causal view is small
        "6, 6, 48, 70, 0, 64, 1, auto", // every row in one block
        "6, 6, 48, 70, 0, 7, 2, auto", // heads on two threads
        "8, 2, 16, 33, 5, 4, 1, auto", // grouped-query heads, start inside the cache
        "8, 2, 16, 33, 5, 4, 2, java", // the Vector API GEMM
        "4, 1, 10, 9, 3, 2, 1, java", // head size below a vector, one KV head
        "2, 2, 8, 1, 0, 1, 1, auto", // a single row at position 0
    })
    void gemmFormMatchesRunCsAttentionRowByRow(int nHeads, int nKv, int hs, int rows, int start, int factor,
                                               int threads, String gemm) {
        int dim = nHeads * hs;
        int kvDim = nKv * hs;
        int cache = start + rows + 3; // rows past the prompt hold garbage that must not be read
        double[] q = asFloats(NativeFixture.random(rows * dim, 1));
        double[] k = asFloats(NativeFixture.random(cache * kvDim, 2));
        double[] v = asFloats(NativeFixture.random(cache * kvDim, 3));
        for (int i = (start + rows) * kvDim; i < cache * kvDim; i++) {
            k[i] = Double.NaN;
            v[i] = Double.NaN;
        }
        int attStride = factor * (start + rows);
        CpuKernels kernels = new CpuKernels(Gemm.of(gemm.equals("java") ? Gemm.Mode.JAVA : Gemm.Mode.AUTO), threads);
        double[] ref = reference(q, k, v, rows, nHeads, nKv, hs, start);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bq = f.buffer(DType.F32, q, 3);
            DeviceBuffer bk = f.buffer(DType.F32, k);
            DeviceBuffer bv = f.buffer(DType.F32, v);
            DeviceBuffer att = f.nans(DType.F32, (long) nHeads * attStride);
            DeviceBuffer out = f.nans(DType.F32, (long) rows * dim);
            kernels.causalAttention(DType.F32, bq, 3 * 4L, bk, 0, bv, 0, att, 0, attStride, out, 0, rows, nHeads,
                    nKv, hs, start);
            double[] got = f.read(DType.F32, out, rows * dim);
            // one-row kernel (run.c's loop) for comparison
            DeviceBuffer att1 = f.nans(DType.F32, (long) nHeads * (start + rows));
            DeviceBuffer out1 = f.nans(DType.F32, (long) rows * dim);
            for (int r = 0; r < rows; r++) {
                kernels.attention(DType.F32, bq, (3L + (long) r * dim) * 4, bk, 0, bv, 0, att1, 0, start + rows,
                        out1, (long) r * dim * 4, nHeads, nKv, hs, start + r);
            }
            double[] rowByRow = f.read(DType.F32, out1, rows * dim);
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("element %d vs float64", i).isCloseTo(ref[i],
                        org.assertj.core.data.Offset.offset(2e-6 + 2e-6 * Math.abs(ref[i])));
                assertThat(got[i]).as("element %d vs attention per row", i).isCloseTo(rowByRow[i],
                        org.assertj.core.data.Offset.offset(4e-6 + 4e-6 * Math.abs(ref[i])));
            }
        }
    }

    @Test
    void float64GoesRowByRowAndMatchesTheReference() {
        int nHeads = 4;
        int nKv = 2;
        int hs = 6;
        int rows = 5;
        int start = 2;
        int dim = nHeads * hs;
        int kvDim = nKv * hs;
        double[] q = NativeFixture.random(rows * dim, 4);
        double[] k = NativeFixture.random((start + rows) * kvDim, 5);
        double[] v = NativeFixture.random((start + rows) * kvDim, 6);
        double[] ref = reference(q, k, v, rows, nHeads, nKv, hs, start);
        CpuKernels kernels = new CpuKernels();
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer out = f.nans(DType.F64, (long) rows * dim);
            kernels.causalAttention(DType.F64, f.buffer(DType.F64, q), 0, f.buffer(DType.F64, k), 0,
                    f.buffer(DType.F64, v), 0, f.nans(DType.F64, (long) nHeads * (start + rows)), 0, start + rows,
                    out, 0, rows, nHeads, nKv, hs, start);
            double[] got = f.read(DType.F64, out, rows * dim);
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(1e-12));
            }
        }
    }

    @Test
    void scratchSmallerThanTheCausalViewIsRejected() {
        CpuKernels kernels = new CpuKernels();
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer b = f.nans(DType.F32, 1024);
            assertThatThrownBy(() -> kernels.causalAttention(DType.F32, b, 0, b, 0, b, 0, b, 0, 9, b, 0, 5, 2, 2, 4,
                    5)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attStride=9");
            assertThatThrownBy(() -> kernels.ropeRows(DType.F32, b, 0, b, 0, 2, 12, 8, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("headSize=8");
        }
    }

    @ParameterizedTest(name = "rows {0}, dim {1}, head size {2}, from position {3}")
    @CsvSource({"200, 288, 48, 0", "7, 64, 8, 100", "3, 40, 10, 1", "5, 512, 64, 1000"})
    void ropeRowsIsRopePerRowBitForBit(int rows, int dim, int hs, int start) {
        CpuKernels kernels = new CpuKernels();
        double[] x = asFloats(NativeFixture.random(rows * dim, 7));
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer in = f.buffer(DType.F32, x);
            DeviceBuffer inPlace = f.buffer(DType.F32, x);
            DeviceBuffer out = f.nans(DType.F32, (long) rows * dim);
            DeviceBuffer perRow = f.nans(DType.F32, (long) rows * dim);
            kernels.ropeRows(DType.F32, in, 0, out, 0, rows, dim, hs, start);
            kernels.ropeRows(DType.F32, inPlace, 0, inPlace, 0, rows, dim, hs, start);
            for (int r = 0; r < rows; r++) {
                kernels.rope(DType.F32, in, (long) r * dim * 4, perRow, (long) r * dim * 4, dim, hs, start + r);
            }
            double[] expected = f.read(DType.F32, perRow, rows * dim);
            assertThat(f.read(DType.F32, out, rows * dim)).isEqualTo(expected);
            assertThat(f.read(DType.F32, inPlace, rows * dim)).isEqualTo(expected);
            assertThat(f.read(DType.F32, in, rows * dim)).isEqualTo(x); // the input is untouched
        }
    }
}
