package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Prints, per decode GEMV shape ({@code y = W x}, {@code W} {@code rows x k} row-major float32) and per place the
 * matrix is read from, microseconds per product on the calling thread of: a plain read of the matrix's floats
 * ("stream": what the memory delivers to one core through four accumulators of adds), {@link GemvF32} (ours: one
 * loop over the matrix for contiguous rows of at least 192 elements, a multiple of 32; else one row at a time for
 * {@code k} in {@link GemvF32#SEQUENTIAL_MIN_K}..{@link GemvF32#SEQUENTIAL_MAX_K}; else four rows at a time), the
 * one-row candidate of {@link GemvCandidates} with four accumulators (rowSeq4) and OpenBLAS's
 * {@code cblas_sgemv}. Places: "hot" (one copy, read again and again: L2 when it fits), "l3" (copies rotated so
 * that 48 MiB are read between two reads of one copy, as the stories15M decode's 60 MB a token) and "dram" (256 MiB
 * rotated, as the GQA 38M shape's 150 MB).
 * Medians of {@code -Drounds} (5) interleaved rounds. {@code -Dshapes=ROWSxK,...} picks the shapes, {@code
 * -Dxshift=N} puts {@code x} N bytes (mod 4096) after the first matrix. The candidates' speeds depend on the order
 * of the shapes (the JIT compiles each method for the first shapes it sees; docs/benchmarks.md, issue 14, "Round 12:
 * the GEMV on Zen 5"). Not a unit test; run with {@code OPENBLAS_NUM_THREADS=1 taskset -c 0 java
 * --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ... org.tensorbuffer.cpu.GemvShapeTiming
 * [hot|l3|dram ...]}.
 */
public final class GemvShapeTiming {
    private static final int ROUNDS = Integer.getInteger("rounds", 5);

    private GemvShapeTiming() {
    }

    public static void main(String[] args) {
        String[] places = args.length > 0 ? args : new String[] {"hot", "l3", "dram"};
        Gemm blas = Gemm.of(Gemm.Mode.OPENBLAS);
        int[][] sizes = {{64, 64}, {32, 64}, {172, 64}, {64, 172}, {512, 64}, {288, 288}, {768, 288}, {288, 768},
            {32000, 288}, {512, 512}, {128, 512}, {1376, 512}, {512, 1376}, {32000, 512}};
        String only = System.getProperty("shapes");
        if (only != null) {
            sizes = Arrays.stream(only.split(",")).map(z -> Arrays.stream(z.split("x")).mapToInt(Integer::parseInt)
                    .toArray()).toArray(int[][]::new);
        }
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED;
        String[] names = {"stream", "ours", "rowSeq4", "openblas"};
        float sink = 0;
        for (String place : places) {
            long span = switch (place) {
                case "hot" -> 0;
                case "l3" -> 48L << 20;
                case "dram" -> 256L << 20;
                default -> throw new IllegalArgumentException("place: hot, l3 or dram, got " + place);
            };
            for (int[] sz : sizes) {
                int rows = sz[0];
                int k = sz[1];
                long bytes = (long) rows * k * 4;
                int copies = (int) Math.max(1, (span + bytes - 1) / bytes);
                long[] a = new long[copies];
                SplittableRandom r = new SplittableRandom(1);
                for (int c = 0; c < copies; c++) {
                    a[c] = NativeMemory.allocate(bytes, 64);
                    for (long i = 0; i < (long) rows * k; i++) {
                        ALL.set(f, a[c] + 4 * i, (float) r.nextDouble() - 0.5f);
                    }
                }
                long xBlock = NativeMemory.allocate(k * 4L + 8192, 64);
                // -Dxshift=N: x starts N bytes (mod 4096) after the matrices' first address (default: where the C
                // library put it)
                long x = xBlock;
                if (System.getProperty("xshift") != null) {
                    x = ((xBlock + 4095) & -4096) + ((a[0] + Long.getLong("xshift")) & 4095);
                }
                long y = NativeMemory.allocate(rows * 4L, 64);
                long y2 = NativeMemory.allocate(rows * 4L, 64);
                for (int i = 0; i < k; i++) {
                    ALL.set(f, x + 4L * i, (float) r.nextDouble() - 0.5f);
                }
                int reps = (int) Math.max(copies, Math.max(3, 30_000_000L / ((long) rows * k)));
                double[][] t = new double[names.length][ROUNDS];
                for (int round = -1; round < ROUNDS; round++) {
                    for (int m = 0; m < names.length; m++) {
                        long t0 = System.nanoTime();
                        sink += run(m, reps, a, rows, k, x, y, y2, blas);
                        if (round >= 0) {
                            t[m][round] = (System.nanoTime() - t0) / 1e3 / reps;
                        }
                    }
                }
                GemvF32.rows(0, rows, k, 1f, a[0], k, x, 1, 0f, y, 1);
                GemvCandidates.rowSeq4(rows, k, a[0], x, y2);
                double maxd = 0;
                for (int i = 0; i < rows; i++) {
                    maxd = Math.max(maxd, Math.abs(ALL.get(f, y + 4L * i) - ALL.get(f, y2 + 4L * i)));
                }
                StringBuilder line = new StringBuilder(String.format("%-4s %6d x %5d", place, rows, k));
                for (int m = 0; m < names.length; m++) {
                    Arrays.sort(t[m]);
                    line.append(String.format("  %s %8.2f us (%5.1f GB/s)", names[m], t[m][ROUNDS / 2], bytes / t[m][ROUNDS / 2] / 1e3));
                }
                line.append(String.format("  rowSeq4-ours max diff %.2g", maxd));
                System.out.println(line);
                for (long p : a) {
                    NativeMemory.free(p);
                }
                for (long p : new long[] {xBlock, y, y2}) {
                    NativeMemory.free(p);
                }
            }
        }
        if (sink == 12345) {
            System.out.println(sink);
        }
    }

    // one small method per timed loop, so that each is compiled (and its kernel inlined) on its own rather than
    // inside main's on-stack-replacement compile

    private static float run(int m, int reps, long[] a, int rows, int k, long x, long y, long y2, Gemm blas) {
        return switch (m) {
            case 0 -> stream(reps, a, (long) rows * k);
            case 1 -> ours(reps, a, rows, k, x, y);
            case 2 -> rowSeq4(reps, a, rows, k, x, y2);
            default -> blas(reps, a, rows, k, x, y2, blas);
        };
    }

    private static float stream(int reps, long[] a, long elements) {
        float s = 0;
        for (int i = 0; i < reps; i++) {
            s += GemvCandidates.stream(a[i % a.length], elements);
        }
        return s;
    }

    private static float ours(int reps, long[] a, int rows, int k, long x, long y) {
        for (int i = 0; i < reps; i++) {
            GemvF32.rows(0, rows, k, 1f, a[i % a.length], k, x, 1, 0f, y, 1);
        }
        return 0;
    }

    private static float rowSeq4(int reps, long[] a, int rows, int k, long x, long y) {
        for (int i = 0; i < reps; i++) {
            GemvCandidates.rowSeq4(rows, k, a[i % a.length], x, y);
        }
        return 0;
    }

    private static float blas(int reps, long[] a, int rows, int k, long x, long y, Gemm blas) {
        for (int i = 0; i < reps; i++) {
            blas.run(false, false, false, rows, 1, k, 1, a[i % a.length], k, 0, x, 1, 0, 0, y, 1, 0, 1);
        }
        return 0;
    }
}
