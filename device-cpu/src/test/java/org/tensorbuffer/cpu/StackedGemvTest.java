package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Stacked weights, as the workloads' {@code Transformer} applies them in a decode step (a layer's wq, wk and wv one
 * under the other as one {@code [dim + 2 kvDim, dim]} matrix, w1 and w3 as one {@code [2 hidden, dim]} matrix, each
 * in one float32 matrix-vector product and so one hand-off to the kernels' threads): the stacked product gives,
 * bit for bit, the results of one product per weight, on one thread (whole {@code cblas_sgemv} calls), two and three
 * threads (row blocks over the team), in the default GEMM mode and the Vector API ({@code java}) mode. Shapes are the
 * models' (stories260K, stories15M, GQA 38M), whose weights have row counts that are multiples of four.
 */
class StackedGemvTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;

    @ParameterizedTest
    @CsvSource({
        "64, 64 32 32", "64, 172 172",        // stories260K: q/k/v, w1/w3
        "288, 288 288 288", "288, 768 768",   // stories15M
        "512, 512 128 128", "512, 1376 1376", // GQA 38M
    })
    void stackedProductGivesEachWeightsBits(int k, String rowList) {
        int[] parts = Arrays.stream(rowList.trim().split(" +")).mapToInt(Integer::parseInt).toArray();
        int rows = Arrays.stream(parts).sum();
        SplittableRandom rnd = new SplittableRandom(rows * 31L + k);
        double[] w = new double[rows * k];
        double[] x = new double[k];
        NativeFixture.fillUniform(rnd, w, x);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bw = f.buffer(DType.F32, w);
            DeviceBuffer bx = f.buffer(DType.F32, x);
            for (Gemm.Mode mode : new Gemm.Mode[] {Gemm.Mode.AUTO, Gemm.Mode.JAVA}) {
                double[] first = null;
                for (int threads : new int[] {1, 2, 3}) {
                    CpuKernels kern = new CpuKernels(Gemm.of(mode), threads);
                    DeviceBuffer stacked = f.nans(DType.F32, rows);
                    kern.gemm(DType.F32, false, false, rows, 1, k, 1.0, bw, 0, k, bx, 0, 1, 0.0, stacked, 0, 1);
                    DeviceBuffer apart = f.nans(DType.F32, rows);
                    long r0 = 0;
                    for (int n : parts) {
                        kern.gemm(DType.F32, false, false, n, 1, k, 1.0, bw, r0 * k * 4, k, bx, 0, 1, 0.0, apart,
                                r0 * 4, 1);
                        r0 += n;
                    }
                    double[] s = f.read(DType.F32, stacked, rows);
                    double[] a = f.read(DType.F32, apart, rows);
                    assertThat(s).as("%s, %d threads: stacked against one product per weight", mode, threads)
                            .isEqualTo(a);
                    assertThat(Arrays.stream(s).allMatch(Double::isFinite)).isTrue();
                    if (first == null) {
                        first = s;
                    } else {
                        assertThat(s).as("%s, %d threads against 1", mode, threads).isEqualTo(first);
                    }
                }
            }
        }
    }
}
