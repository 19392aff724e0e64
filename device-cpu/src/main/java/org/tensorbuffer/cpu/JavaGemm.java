package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Blocked GEMM in Java with the Vector API, the fallback when OpenBLAS is absent (or forced with
 * {@code tensorbuffer.cpu.gemm=java}).
 *
 * <p>The loop structure is the GotoBLAS/BLIS one (Goto and van de Geijn, "Anatomy of high-performance matrix
 * multiplication", ACM TOMS 34(3), 2008; Van Zee and van de Geijn, "BLIS", ACM TOMS 41(3), 2015): blocks of
 * {@value #NC} columns and {@value #KC} depths of {@code op(B)} are packed into a row panel on the Java heap, blocks of
 * {@value #MC} rows of {@code alpha * op(A)} into micro-panels of {@value #MR} rows, and a {@value #MR} x (2 vectors)
 * micro-kernel keeps its 12 accumulators in registers with fused multiply-adds. Row blocks run in parallel on the
 * common fork-join pool for large products. {@code C} is first scaled by {@code beta} (zeroed, unread, if it is 0),
 * then accumulated into. Transposes are absorbed by the packing. Addresses are absolute native addresses that the
 * caller has bounds-checked. Thread-safe.
 */
final class JavaGemm {
    static final int MR = 6;
    static final int KC = 256;
    static final int MC = 72;
    static final int NC = 1024;
    /** Products of at least this many multiply-adds run their row blocks in parallel. */
    static final double PARALLEL_WORK = 1 << 21;
    private static final int PARALLELISM = ForkJoinPool.getCommonPoolParallelism();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private JavaGemm() {
    }

    /** E.g. {@code 6x32 float / 6x16 double micro-kernel, 512-bit vectors}. */
    static String describe() {
        return MR + "x" + 2 * FS.length() + " float / " + MR + "x" + 2 * DS.length() + " double micro-kernel, "
                + FS.vectorBitSize() + "-bit vectors";
    }

    /** {@code C = alpha * op(A) * op(B) + beta * C} for {@code m, n, k > 0}. */
    static void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a,
                     int lda, long b, int ldb, double beta, long c, int ldc) {
        Gemm.scaleC(f64, m, n, beta, c, ldc);
        if (f64) {
            gemmF64(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        } else {
            gemmF32(transA, transB, m, n, k, (float) alpha, a, lda, b, ldb, c, ldc);
        }
    }

    private static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }

    // ------------------------------------------------------------ F32

    private static void gemmF32(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda,
                                long b, int ldb, long c, int ldc) {
        final int v = FS.length();
        final int nr = 2 * v;
        int kc = Math.min(k, KC);
        int ncMax = Math.min(roundUp(n, nr), NC);
        int mcMax = Math.min(roundUp(m, MR), MC);
        int icBlocks = (m + MC - 1) / MC;
        boolean parallel = PARALLELISM > 1 && icBlocks > 1 && (double) m * n * k >= PARALLEL_WORK;
        float[] bp = new float[kc * ncMax];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int ncPad = roundUp(nc, nr);
            for (int pc = 0; pc < k; pc += KC) {
                int kb = Math.min(KC, k - pc);
                packF32B(transB, b, ldb, pc, kb, jc, nc, ncPad, bp);
                final int fjc = jc;
                final int fpc = pc;
                if (parallel) {
                    IntStream.range(0, icBlocks).parallel().forEach(ib -> {
                        float[] ap = new float[mcMax * kb];
                        blockF32(transA, m, alpha, a, lda, ib * MC, fpc, kb, fjc, nc, ncPad, bp, ap, c, ldc, n);
                    });
                } else {
                    float[] ap = new float[mcMax * kb];
                    for (int ib = 0; ib < icBlocks; ib++) {
                        blockF32(transA, m, alpha, a, lda, ib * MC, pc, kb, jc, nc, ncPad, bp, ap, c, ldc, n);
                    }
                }
            }
        }
    }

    /** Packs op(B)[pc:pc+kb, jc:jc+nc] row-major into {@code bp} with rows of {@code ncPad} (zero padded). */
    private static void packF32B(boolean transB, long b, int ldb, int pc, int kb, int jc, int nc, int ncPad,
                                 float[] bp) {
        if (!transB) {
            for (int p = 0; p < kb; p++) {
                int row = p * ncPad;
                MemorySegment.copy(ALL, F, b + ((long) (pc + p) * ldb + jc) * 4, bp, row, nc);
                Arrays.fill(bp, row + nc, row + ncPad, 0);
            }
            return;
        }
        // op(B)(p, j) = B[j][p]: each stored row j is contiguous in p; copy it in bulk, then scatter into column j.
        float[] col = new float[kb];
        for (int j = 0; j < nc; j++) {
            MemorySegment.copy(ALL, F, b + ((long) (jc + j) * ldb + pc) * 4, col, 0, kb);
            for (int p = 0; p < kb; p++) {
                bp[p * ncPad + j] = col[p];
            }
        }
        for (int p = 0; p < kb; p++) {
            Arrays.fill(bp, p * ncPad + nc, (p + 1) * ncPad, 0);
        }
    }

    /** One MC-row block: packs alpha * op(A) and runs the micro-kernel over it. */
    private static void blockF32(boolean transA, int m, float alpha, long a, int lda, int ic, int pc, int kb, int jc,
                                 int nc, int ncPad, float[] bp, float[] ap, long c, int ldc, int n) {
        int mc = Math.min(MC, m - ic);
        // ap: micro-panels of MR rows, each kb x MR, element (r, p) at panel * kb * MR + p * MR + r; rows past the
        // end of A are zero. Stored rows of A are copied in bulk and then scattered (fast even before JIT compilation).
        int mcPad = roundUp(mc, MR);
        if (mcPad > mc) {
            Arrays.fill(ap, 0, mcPad * kb, 0);
        }
        if (!transA) {
            float[] row = new float[kb];
            for (int r = 0; r < mc; r++) {
                MemorySegment.copy(ALL, F, a + ((long) (ic + r) * lda + pc) * 4, row, 0, kb);
                int at = (r / MR) * MR * kb + r % MR;
                for (int p = 0; p < kb; p++, at += MR) {
                    ap[at] = alpha * row[p];
                }
            }
        } else {
            // op(A)(i, p) = A[p][i]: stored row p holds the mc values of this block contiguously.
            float[] row = new float[mc];
            for (int p = 0; p < kb; p++) {
                MemorySegment.copy(ALL, F, a + ((long) (pc + p) * lda + ic) * 4, row, 0, mc);
                for (int r = 0; r < mc; r++) {
                    ap[(r / MR) * MR * kb + p * MR + r % MR] = alpha * row[r];
                }
            }
        }
        final int v = FS.length();
        final int nr = 2 * v;
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int base = ir * kb;
            for (int jr = 0; jr < ncPad; jr += nr) {
                int cols = Math.min(nr, nc - jr);
                long cRow = c + ((long) (ic + ir) * ldc + jc + jr) * 4;
                tileF32(ap, base, bp, jr, ncPad, kb, cRow, (long) ldc * 4, rows, cols);
            }
        }
    }

    /** The F32 micro-kernel: a rows x cols tile of C (rows <= MR, cols <= 2 vectors) += packed A panel * B panel. */
    private static void tileF32(float[] ap, int ai0, float[] bp, int bi0, int ncPad, int kb, long cRow, long cStep,
                                int rows, int cols) {
        final int v = FS.length();
        FloatVector c00 = FloatVector.zero(FS), c01 = FloatVector.zero(FS);
        FloatVector c10 = FloatVector.zero(FS), c11 = FloatVector.zero(FS);
        FloatVector c20 = FloatVector.zero(FS), c21 = FloatVector.zero(FS);
        FloatVector c30 = FloatVector.zero(FS), c31 = FloatVector.zero(FS);
        FloatVector c40 = FloatVector.zero(FS), c41 = FloatVector.zero(FS);
        FloatVector c50 = FloatVector.zero(FS), c51 = FloatVector.zero(FS);
        int bi = bi0;
        int ai = ai0;
        for (int p = 0; p < kb; p++, bi += ncPad, ai += MR) {
            FloatVector b0 = FloatVector.fromArray(FS, bp, bi);
            FloatVector b1 = FloatVector.fromArray(FS, bp, bi + v);
            FloatVector x = FloatVector.broadcast(FS, ap[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(FS, ap[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(FS, ap[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(FS, ap[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(FS, ap[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(FS, ap[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        addF32(c00, c01, cRow, cols, v);
        if (rows > 1) {
            addF32(c10, c11, cRow + cStep, cols, v);
        }
        if (rows > 2) {
            addF32(c20, c21, cRow + 2 * cStep, cols, v);
        }
        if (rows > 3) {
            addF32(c30, c31, cRow + 3 * cStep, cols, v);
        }
        if (rows > 4) {
            addF32(c40, c41, cRow + 4 * cStep, cols, v);
        }
        if (rows > 5) {
            addF32(c50, c51, cRow + 5 * cStep, cols, v);
        }
    }

    /** {@code C[row, 0:cols] += (lo, hi)} for the first {@code cols} lanes of the two vectors. */
    private static void addF32(FloatVector lo, FloatVector hi, long row, int cols, int v) {
        if (cols == 2 * v) {
            FloatVector.fromMemorySegment(FS, ALL, row, ORDER).add(lo).intoMemorySegment(ALL, row, ORDER);
            FloatVector.fromMemorySegment(FS, ALL, row + v * 4L, ORDER).add(hi)
                    .intoMemorySegment(ALL, row + v * 4L, ORDER);
            return;
        }
        float[] lanes = new float[2 * v];
        lo.intoArray(lanes, 0);
        hi.intoArray(lanes, v);
        for (int j = 0; j < cols; j++) {
            float x = lanes[j];
            long at = row + j * 4L;
            ALL.set(F, at, ALL.get(F, at) + x);
        }
    }

    // ------------------------------------------------------------ F64

    private static void gemmF64(boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
                                long b, int ldb, long c, int ldc) {
        final int v = DS.length();
        final int nr = 2 * v;
        int kc = Math.min(k, KC);
        int ncMax = Math.min(roundUp(n, nr), NC);
        int mcMax = Math.min(roundUp(m, MR), MC);
        int icBlocks = (m + MC - 1) / MC;
        boolean parallel = PARALLELISM > 1 && icBlocks > 1 && (double) m * n * k >= PARALLEL_WORK;
        double[] bp = new double[kc * ncMax];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int ncPad = roundUp(nc, nr);
            for (int pc = 0; pc < k; pc += KC) {
                int kb = Math.min(KC, k - pc);
                packF64B(transB, b, ldb, pc, kb, jc, nc, ncPad, bp);
                final int fjc = jc;
                final int fpc = pc;
                if (parallel) {
                    IntStream.range(0, icBlocks).parallel().forEach(ib -> {
                        double[] ap = new double[mcMax * kb];
                        blockF64(transA, m, alpha, a, lda, ib * MC, fpc, kb, fjc, nc, ncPad, bp, ap, c, ldc, n);
                    });
                } else {
                    double[] ap = new double[mcMax * kb];
                    for (int ib = 0; ib < icBlocks; ib++) {
                        blockF64(transA, m, alpha, a, lda, ib * MC, pc, kb, jc, nc, ncPad, bp, ap, c, ldc, n);
                    }
                }
            }
        }
    }

    /** Packs op(B)[pc:pc+kb, jc:jc+nc] row-major into {@code bp} with rows of {@code ncPad} (zero padded). */
    private static void packF64B(boolean transB, long b, int ldb, int pc, int kb, int jc, int nc, int ncPad,
                                 double[] bp) {
        if (!transB) {
            for (int p = 0; p < kb; p++) {
                int row = p * ncPad;
                MemorySegment.copy(ALL, D, b + ((long) (pc + p) * ldb + jc) * 8, bp, row, nc);
                Arrays.fill(bp, row + nc, row + ncPad, 0);
            }
            return;
        }
        // op(B)(p, j) = B[j][p]: each stored row j is contiguous in p; copy it in bulk, then scatter into column j.
        double[] col = new double[kb];
        for (int j = 0; j < nc; j++) {
            MemorySegment.copy(ALL, D, b + ((long) (jc + j) * ldb + pc) * 8, col, 0, kb);
            for (int p = 0; p < kb; p++) {
                bp[p * ncPad + j] = col[p];
            }
        }
        for (int p = 0; p < kb; p++) {
            Arrays.fill(bp, p * ncPad + nc, (p + 1) * ncPad, 0);
        }
    }

    /** One MC-row block: packs alpha * op(A) and runs the micro-kernel over it. */
    private static void blockF64(boolean transA, int m, double alpha, long a, int lda, int ic, int pc, int kb, int jc,
                                 int nc, int ncPad, double[] bp, double[] ap, long c, int ldc, int n) {
        int mc = Math.min(MC, m - ic);
        // ap: micro-panels of MR rows, each kb x MR, element (r, p) at panel * kb * MR + p * MR + r; rows past the
        // end of A are zero. Stored rows of A are copied in bulk and then scattered (fast even before JIT compilation).
        int mcPad = roundUp(mc, MR);
        if (mcPad > mc) {
            Arrays.fill(ap, 0, mcPad * kb, 0);
        }
        if (!transA) {
            double[] row = new double[kb];
            for (int r = 0; r < mc; r++) {
                MemorySegment.copy(ALL, D, a + ((long) (ic + r) * lda + pc) * 8, row, 0, kb);
                int at = (r / MR) * MR * kb + r % MR;
                for (int p = 0; p < kb; p++, at += MR) {
                    ap[at] = alpha * row[p];
                }
            }
        } else {
            // op(A)(i, p) = A[p][i]: stored row p holds the mc values of this block contiguously.
            double[] row = new double[mc];
            for (int p = 0; p < kb; p++) {
                MemorySegment.copy(ALL, D, a + ((long) (pc + p) * lda + ic) * 8, row, 0, mc);
                for (int r = 0; r < mc; r++) {
                    ap[(r / MR) * MR * kb + p * MR + r % MR] = alpha * row[r];
                }
            }
        }
        final int v = DS.length();
        final int nr = 2 * v;
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int base = ir * kb;
            for (int jr = 0; jr < ncPad; jr += nr) {
                int cols = Math.min(nr, nc - jr);
                long cRow = c + ((long) (ic + ir) * ldc + jc + jr) * 8;
                tileF64(ap, base, bp, jr, ncPad, kb, cRow, (long) ldc * 8, rows, cols);
            }
        }
    }

    /** The F64 micro-kernel: a rows x cols tile of C (rows <= MR, cols <= 2 vectors) += packed A panel * B panel. */
    private static void tileF64(double[] ap, int ai0, double[] bp, int bi0, int ncPad, int kb, long cRow, long cStep,
                                int rows, int cols) {
        final int v = DS.length();
        DoubleVector c00 = DoubleVector.zero(DS), c01 = DoubleVector.zero(DS);
        DoubleVector c10 = DoubleVector.zero(DS), c11 = DoubleVector.zero(DS);
        DoubleVector c20 = DoubleVector.zero(DS), c21 = DoubleVector.zero(DS);
        DoubleVector c30 = DoubleVector.zero(DS), c31 = DoubleVector.zero(DS);
        DoubleVector c40 = DoubleVector.zero(DS), c41 = DoubleVector.zero(DS);
        DoubleVector c50 = DoubleVector.zero(DS), c51 = DoubleVector.zero(DS);
        int bi = bi0;
        int ai = ai0;
        for (int p = 0; p < kb; p++, bi += ncPad, ai += MR) {
            DoubleVector b0 = DoubleVector.fromArray(DS, bp, bi);
            DoubleVector b1 = DoubleVector.fromArray(DS, bp, bi + v);
            DoubleVector x = DoubleVector.broadcast(DS, ap[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = DoubleVector.broadcast(DS, ap[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = DoubleVector.broadcast(DS, ap[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = DoubleVector.broadcast(DS, ap[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = DoubleVector.broadcast(DS, ap[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = DoubleVector.broadcast(DS, ap[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        addF64(c00, c01, cRow, cols, v);
        if (rows > 1) {
            addF64(c10, c11, cRow + cStep, cols, v);
        }
        if (rows > 2) {
            addF64(c20, c21, cRow + 2 * cStep, cols, v);
        }
        if (rows > 3) {
            addF64(c30, c31, cRow + 3 * cStep, cols, v);
        }
        if (rows > 4) {
            addF64(c40, c41, cRow + 4 * cStep, cols, v);
        }
        if (rows > 5) {
            addF64(c50, c51, cRow + 5 * cStep, cols, v);
        }
    }

    /** {@code C[row, 0:cols] += (lo, hi)} for the first {@code cols} lanes of the two vectors. */
    private static void addF64(DoubleVector lo, DoubleVector hi, long row, int cols, int v) {
        if (cols == 2 * v) {
            DoubleVector.fromMemorySegment(DS, ALL, row, ORDER).add(lo).intoMemorySegment(ALL, row, ORDER);
            DoubleVector.fromMemorySegment(DS, ALL, row + v * 8L, ORDER).add(hi)
                    .intoMemorySegment(ALL, row + v * 8L, ORDER);
            return;
        }
        double[] lanes = new double[2 * v];
        lo.intoArray(lanes, 0);
        hi.intoArray(lanes, v);
        for (int j = 0; j < cols; j++) {
            double x = lanes[j];
            long at = row + j * 8L;
            ALL.set(D, at, ALL.get(D, at) + x);
        }
    }
}
