package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Prints float32 matrix-vector timings ({@code y = W x}, {@code W} {@code rows x k} row-major) of {@link GemvF32} on
 * one thread against OpenBLAS's {@code cblas_sgemv} (through {@link Gemm} forced to OpenBLAS), for the decode
 * shapes of stories260K, stories15M and the GQA 38M shape: median microseconds of 7 rounds, the Java kernel's
 * bandwidth in GB/s and the largest difference between the two results. Not a unit test; run with
 * {@code OPENBLAS_NUM_THREADS=1 taskset -c 0 java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
 * -cp ... org.tensorbuffer.cpu.GemvTiming}.
 */
public final class GemvTiming {
    private GemvTiming() {
    }

    public static void main(String[] args) {
        Gemm blas = Gemm.of(Gemm.Mode.OPENBLAS);
        int[][] sizes = {{64, 64}, {172, 64}, {512, 64}, {288, 288}, {768, 288}, {288, 768}, {512, 512}, {128, 512},
            {1376, 512}, {512, 1376}, {32000, 288}, {32000, 512}};
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED;
        for (int[] sz : sizes) {
            int rows = sz[0];
            int k = sz[1];
            long a = NativeMemory.allocate((long) rows * k * 4, 64);
            long x = NativeMemory.allocate(k * 4L, 64);
            long y = NativeMemory.allocate(rows * 4L, 64);
            long y2 = NativeMemory.allocate(rows * 4L, 64);
            SplittableRandom r = new SplittableRandom(1);
            for (long i = 0; i < (long) rows * k; i++) {
                ALL.set(f, a + 4 * i, (float) r.nextDouble() - 0.5f);
            }
            for (int i = 0; i < k; i++) {
                ALL.set(f, x + 4L * i, (float) r.nextDouble() - 0.5f);
            }
            int reps = (int) Math.max(3, 20_000_000L / ((long) rows * k));
            double[] tj = new double[7];
            double[] tb = new double[7];
            for (int round = 0; round < 7; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    GemvF32.rows(0, rows, k, 1f, a, k, x, 1, 0f, y, 1);
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    blas.run(false, false, false, rows, 1, k, 1, a, k, 0, x, 1, 0, 0, y2, 1, 0, 1);
                }
                long t2 = System.nanoTime();
                tj[round] = (t1 - t0) / 1e3 / reps;
                tb[round] = (t2 - t1) / 1e3 / reps;
            }
            double maxd = 0;
            for (int i = 0; i < rows; i++) {
                maxd = Math.max(maxd, Math.abs(ALL.get(f, y + 4L * i) - ALL.get(f, y2 + 4L * i)));
            }
            Arrays.sort(tj);
            Arrays.sort(tb);
            System.out.printf("%6d x %5d  java %9.2f us  openblas %9.2f us  java/openblas %.2f  java %.1f GB/s"
                    + "  max diff %.2g%n", rows, k, tj[3], tb[3], tj[3] / tb[3], rows * (double) k * 4 / tj[3] / 1e3,
                    maxd);
            for (long p : new long[] {a, x, y, y2}) {
                NativeMemory.free(p);
            }
        }
    }
}
