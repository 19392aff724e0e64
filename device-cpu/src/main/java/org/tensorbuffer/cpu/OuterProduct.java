package org.tensorbuffer.cpu;

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
                OuterProductF64.matrix(m, n, alpha, a + p * strideA, incA * 8, b + p * strideB, incB, beta,
                        c + p * strideC, (long) ldc * 8);
            }
        } else {
            for (int p = 0; p < batch; p++) {
                OuterProductF32.matrix(m, n, (float) alpha, a + p * strideA, incA * 4, b + p * strideB, incB,
                        (float) beta, c + p * strideC, (long) ldc * 4);
            }
        }
    }
}
