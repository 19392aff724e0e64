package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Attention with its heads split over two threads: the same bits as on one thread (each head is computed by the same
 * code either way), and close to a float64 reference; a bad thread count is rejected. The shapes include heads of 8
 * floats whose key heads pair up into 16-lane vectors (stories260K's), scored eight positions at a time with a last
 * partial group (VectorOpsF32.scoresTree), split by groups of heads.
 */
class ThreadedAttentionTest {
    @RegisterExtension
    static final LeakCheckedDevice LEAK_CHECK = new LeakCheckedDevice();
    private static final CpuDevice DEVICE = LEAK_CHECK.device;

    @ParameterizedTest(name = "nHeads {0}, nKvHeads {1}, headSize {2}, pos {3}")
    @CsvSource({"8, 2, 64, 100", "8, 4, 8, 1000", "4, 4, 8, 1029", "16, 2, 8, 300", "6, 3, 8, 700"})
    void twoThreadsGiveOneThreadsBitsAndMatchFloat64(int nHeads, int nKvHeads, int headSize, int pos) {
        // every shape has at least nHeads * (pos + 1) * headSize multiply-adds: above the split threshold
        assertThat((long) nHeads * (pos + 1) * headSize).isGreaterThanOrEqualTo(CpuKernels.PARALLEL_ATTENTION_WORK);
        int kvDim = nKvHeads * headSize;
        SplittableRandom rnd = new SplittableRandom(14);
        double[] q = new double[nHeads * headSize];
        double[] k = new double[(pos + 1) * kvDim];
        double[] v = new double[(pos + 1) * kvDim];
        NativeFixture.fillUniform(rnd, q, k, v);
        CpuKernels one = new CpuKernels(new CpuKernels().gemmImplementation(), 1);
        CpuKernels two = new CpuKernels(new CpuKernels().gemmImplementation(), 2);
        try (NativeFixture f = new NativeFixture(DEVICE)) {
            DeviceBuffer bq = f.buffer(DType.F32, q);
            DeviceBuffer bk = f.buffer(DType.F32, k);
            DeviceBuffer bv = f.buffer(DType.F32, v);
            DeviceBuffer att1 = f.nans(DType.F32, (long) nHeads * (pos + 1));
            DeviceBuffer att2 = f.nans(DType.F32, (long) nHeads * (pos + 1));
            DeviceBuffer out1 = f.nans(DType.F32, (long) nHeads * headSize);
            DeviceBuffer out2 = f.nans(DType.F32, (long) nHeads * headSize);
            one.attention(DType.F32, bq, 0, bk, 0, bv, 0, att1, 0, pos + 1, out1, 0, nHeads, nKvHeads, headSize, pos);
            two.attention(DType.F32, bq, 0, bk, 0, bv, 0, att2, 0, pos + 1, out2, 0, nHeads, nKvHeads, headSize, pos);
            double[] o1 = f.read(DType.F32, out1, nHeads * headSize);
            double[] o2 = f.read(DType.F32, out2, nHeads * headSize);
            assertThat(o2).isEqualTo(o1);
            assertThat(f.read(DType.F32, att2, nHeads * (pos + 1))).isEqualTo(f.read(DType.F32, att1,
                    nHeads * (pos + 1)));
            // float64 reference of run.c's attention
            int kvMul = nHeads / nKvHeads;
            for (int h = 0; h < nHeads; h++) {
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double d = 0;
                    for (int i = 0; i < headSize; i++) {
                        d += q[h * headSize + i] * k[t * kvDim + (h / kvMul) * headSize + i];
                    }
                    s[t] = d / Math.sqrt(headSize);
                    max = Math.max(max, s[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) {
                    s[t] = Math.exp(s[t] - max);
                    sum += s[t];
                }
                for (int i = 0; i < headSize; i++) {
                    double o = 0;
                    for (int t = 0; t <= pos; t++) {
                        o += s[t] / sum * v[t * kvDim + (h / kvMul) * headSize + i];
                    }
                    assertThat(o1[h * headSize + i]).as("head %d, %d", h, i).isCloseTo(o,
                            org.assertj.core.data.Offset.offset(1e-5));
                }
            }
        }
    }

    @Test
    void rejectsNonPositiveThreadCounts() {
        assertThatThrownBy(() -> new CpuKernels(new CpuKernels().gemmImplementation(), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1");
    }
}
