package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batched GEMM with {@code k == 1}, a rank-1 (outer) product per batch matrix:
 * {@code C[i][j] = alpha * op(A)[i][0] * op(B)[0][j] + beta * C[i][j]}, row-major. Every row of C is the row of B
 * scaled by one number, so it runs as one streaming pass over C (Vector API loads of B's row, one multiply, stores),
 * and with {@code beta == 0} C is written without being read. A BLAS {@code ?gemm} with {@code k == 1} instead packs
 * both operands, scales C by beta and then adds the product (two passes over C), and a batch of thousands of tiny
 * products pays its call and set-up per matrix; einsum plans produce both (outer products, and products with a
 * broadcast label: {@code m = 1, n = 4782969, batch = 9} and {@code m = n = 3, batch = 4782969} on
 * {@code gm_queen5_5_3}, whose {@code k == 1} products took 1.0 s of a 3.5 s evaluation through OpenBLAS and the
 * scalar small-GEMM loop; docs/benchmarks.md, issue 14, round 5).
 *
 * <p>Rows shorter than one vector, and rows of a B whose row elements are not contiguous ({@code transB} with
 * {@code ldb > 1}), run as scalar loops. Addresses are absolute and already bounds-checked by the caller; batch
 * strides in bytes, leading dimensions in elements. Stateless, thread-safe.
 */
final class OuterProduct {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfDouble DL = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfFloat FL = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private OuterProduct() {
    }

    /**
     * Runs {@code batch} rank-1 products ({@code k == 1}); {@code m, n > 0}.
     *
     * @param f64 float64 ({@code true}) or float32 elements
     */
    static void run(boolean f64, boolean transA, boolean transB, int m, int n, double alpha, long a, int lda,
                    long strideA, long b, int ldb, long strideB, double beta, long c, int ldc, long strideC,
                    int batch) {
        // op(A)[i][0]: A is m x 1 (element i at row i) or, transposed, 1 x m (element i at column i).
        long incA = transA ? 1 : lda;
        // op(B)[0][j]: B is 1 x n (contiguous) or, transposed, n x 1 (element j at row j).
        long incB = transB ? ldb : 1;
        if (f64) {
            for (int p = 0; p < batch; p++) {
                matrixF64(m, n, alpha, a + p * strideA, incA * 8, b + p * strideB, incB, beta, c + p * strideC,
                        (long) ldc * 8);
            }
        } else {
            for (int p = 0; p < batch; p++) {
                matrixF32(m, n, (float) alpha, a + p * strideA, incA * 4, b + p * strideB, incB, (float) beta,
                        c + p * strideC, (long) ldc * 4);
            }
        }
    }

    private static void matrixF64(int m, int n, double alpha, long a, long aStep, long b, long incB, double beta,
                                  long c, long cStep) {
        if (incB == 1 && n >= D.length()) {
            for (int i = 0; i < m; i++) {
                double s = alpha * ALL.get(DL, a + i * aStep);
                if (beta == 0) {
                    rowF64(s, b, c + i * cStep, n);
                } else {
                    rowBetaF64(s, b, beta, c + i * cStep, n);
                }
            }
            return;
        }
        for (int i = 0; i < m; i++) {
            double s = alpha * ALL.get(DL, a + i * aStep);
            long row = c + i * cStep;
            for (int j = 0; j < n; j++) {
                double v = s * ALL.get(DL, b + j * incB * 8);
                ALL.set(DL, row + j * 8L, beta == 0 ? v : v + beta * ALL.get(DL, row + j * 8L));
            }
        }
    }

    private static void rowF64(double s, long b, long row, int n) {
        int len = D.length();
        int j = 0;
        for (; j <= n - len; j += len) {
            DoubleVector.fromMemorySegment(D, ALL, b + j * 8L, NATIVE).mul(s)
                    .intoMemorySegment(ALL, row + j * 8L, NATIVE);
        }
        for (; j < n; j++) {
            ALL.set(DL, row + j * 8L, s * ALL.get(DL, b + j * 8L));
        }
    }

    private static void rowBetaF64(double s, long b, double beta, long row, int n) {
        int len = D.length();
        int j = 0;
        for (; j <= n - len; j += len) {
            DoubleVector cv = DoubleVector.fromMemorySegment(D, ALL, row + j * 8L, NATIVE);
            DoubleVector.fromMemorySegment(D, ALL, b + j * 8L, NATIVE).mul(s).add(cv.mul(beta))
                    .intoMemorySegment(ALL, row + j * 8L, NATIVE);
        }
        for (; j < n; j++) {
            ALL.set(DL, row + j * 8L, s * ALL.get(DL, b + j * 8L) + beta * ALL.get(DL, row + j * 8L));
        }
    }

    private static void matrixF32(int m, int n, float alpha, long a, long aStep, long b, long incB, float beta,
                                  long c, long cStep) {
        if (incB == 1 && n >= F.length()) {
            for (int i = 0; i < m; i++) {
                float s = alpha * ALL.get(FL, a + i * aStep);
                if (beta == 0) {
                    rowF32(s, b, c + i * cStep, n);
                } else {
                    rowBetaF32(s, b, beta, c + i * cStep, n);
                }
            }
            return;
        }
        for (int i = 0; i < m; i++) {
            float s = alpha * ALL.get(FL, a + i * aStep);
            long row = c + i * cStep;
            for (int j = 0; j < n; j++) {
                float v = s * ALL.get(FL, b + j * incB * 4);
                ALL.set(FL, row + j * 4L, beta == 0 ? v : v + beta * ALL.get(FL, row + j * 4L));
            }
        }
    }

    private static void rowF32(float s, long b, long row, int n) {
        int len = F.length();
        int j = 0;
        for (; j <= n - len; j += len) {
            FloatVector.fromMemorySegment(F, ALL, b + j * 4L, NATIVE).mul(s)
                    .intoMemorySegment(ALL, row + j * 4L, NATIVE);
        }
        for (; j < n; j++) {
            ALL.set(FL, row + j * 4L, s * ALL.get(FL, b + j * 4L));
        }
    }

    private static void rowBetaF32(float s, long b, float beta, long row, int n) {
        int len = F.length();
        int j = 0;
        for (; j <= n - len; j += len) {
            FloatVector cv = FloatVector.fromMemorySegment(F, ALL, row + j * 4L, NATIVE);
            FloatVector.fromMemorySegment(F, ALL, b + j * 4L, NATIVE).mul(s).add(cv.mul(beta))
                    .intoMemorySegment(ALL, row + j * 4L, NATIVE);
        }
        for (; j < n; j++) {
            ALL.set(FL, row + j * 4L, s * ALL.get(FL, b + j * 4L) + beta * ALL.get(FL, row + j * 4L));
        }
    }
}
