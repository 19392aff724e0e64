package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Prints float32 matrix-vector timings ({@code y = W x}, {@link GemvF32}) of the decode shapes on one thread, on two
 * threads handing the second row block to a {@link ForkJoinPool} worker per call (the kernels' hand-off before
 * {@link KernelTeam}) and on two threads through a {@link KernelTeam} (spinning worker): median microseconds of 7
 * rounds and the speed-up of each two-thread variant over one thread. The same row split in both (two blocks of whole
 * quads). Not a unit test; run with {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
 * -cp ... org.tensorbuffer.cpu.TeamGemvTiming}.
 */
public final class TeamGemvTiming {
    private TeamGemvTiming() {
    }

    public static void main(String[] args) {
        int[][] sizes = {{172, 64}, {512, 64}, {288, 288}, {768, 288}, {288, 768}, {512, 512}, {128, 512},
            {1376, 512}, {512, 1376}, {32000, 288}, {32000, 512}};
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED;
        ForkJoinPool pool = new ForkJoinPool(2);
        KernelTeam team = new KernelTeam(2, KernelTeam.spinMicrosFromSystemProperty());
        for (int[] sz : sizes) {
            int rows = sz[0];
            int k = sz[1];
            long a = NativeMemory.allocate((long) rows * k * 4, 64);
            long x = NativeMemory.allocate(k * 4L, 64);
            long y = NativeMemory.allocate(rows * 4L, 64);
            SplittableRandom r = new SplittableRandom(1);
            for (long i = 0; i < (long) rows * k; i++) {
                ALL.set(f, a + 4 * i, (float) r.nextDouble() - 0.5f);
            }
            for (int i = 0; i < k; i++) {
                ALL.set(f, x + 4L * i, (float) r.nextDouble() - 0.5f);
            }
            int half = 4 * (((rows + 3) / 4) / 2);
            int reps = (int) Math.max(3, 20_000_000L / ((long) rows * k));
            double[][] t = new double[3][7];
            for (int round = 0; round < 7; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    GemvF32.rows(0, rows, k, 1f, a, k, x, 1, 0f, y, 1);
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    ForkJoinTask<?> task = pool.submit(() -> GemvF32.rows(half, rows, k, 1f, a, k, x, 1, 0f, y, 1));
                    GemvF32.rows(0, half, k, 1f, a, k, x, 1, 0f, y, 1);
                    task.join();
                }
                long t2 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    team.run(2, p -> GemvF32.rows(p == 0 ? 0 : half, p == 0 ? half : rows, k, 1f, a, k, x, 1, 0f,
                            y, 1));
                }
                long t3 = System.nanoTime();
                t[0][round] = (t1 - t0) / 1e3 / reps;
                t[1][round] = (t2 - t1) / 1e3 / reps;
                t[2][round] = (t3 - t2) / 1e3 / reps;
            }
            for (double[] ti : t) {
                Arrays.sort(ti);
            }
            System.out.printf("%6d x %5d  1 thread %9.2f us  2 fork-join %9.2f us (%.2fx)  2 team %9.2f us (%.2fx)%n",
                    rows, k, t[0][3], t[1][3], t[0][3] / t[1][3], t[2][3], t[0][3] / t[2][3]);
            for (long p : new long[] {a, x, y}) {
                NativeMemory.free(p);
            }
        }
        pool.shutdown();
    }
}
