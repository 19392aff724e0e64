package org.tensorbuffer.cpu;

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
 *
 * <p>This class holds the blocking constants and the dispatch; the loops themselves are {@code JavaGemmF32} and
 * {@code JavaGemmF64}, generated at build time from the one template
 * {@code src/main/java-templates/org/tensorbuffer/cpu/JavaGemm-X.java.template} (see the package documentation).
 */
final class JavaGemm {
    static final int MR = 6;
    static final int KC = 256;
    static final int MC = 72;
    static final int NC = 1024;
    /** Products of at least this many multiply-adds run their row blocks in parallel. */
    static final double PARALLEL_WORK = 1 << 21;
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

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
            JavaGemmF64.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        } else {
            JavaGemmF32.gemm(transA, transB, m, n, k, (float) alpha, a, lda, b, ldb, c, ldc);
        }
    }

    static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }
}
