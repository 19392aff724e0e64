package org.tensorbuffer.cpu;

/**
 * GEMMs too small for a blocked GEMM's packing to pay, in the Vector API without packing: {@code SmallVectorGemmF32}
 * and {@code SmallVectorGemmF64} (generated from one template, see the package documentation), a 4-row x 4-vector
 * register tile that reads {@code op(B)}'s rows straight from memory. Without OpenBLAS, {@link Gemm} runs every
 * product with {@link Gemm#SMALL_WORK_JAVA} {@code < m * n * k <=} {@link #MAX_WORK} and {@code m, n > 1} here
 * instead of the blocked {@link JavaGemm}. Measured with {@code BatchedGemmTiming} on this project's 2-core AVX-512
 * machine (docs/benchmarks.md, issue 14 "Round 6"): 34-47 GFLOP/s in float64 at 32^3..128^3 against 4-5 for the
 * blocked Java GEMM, but below OpenBLAS 0.3.21 (47-57) at every size measured, 12^3 to 128^3 and batches of 32 64^3
 * products included, so with OpenBLAS present those products stay with OpenBLAS. Addresses are absolute and
 * bounds-checked by the caller. Thread-safe.
 */
final class SmallVectorGemm {
    /** Products with {@code m * n * k} up to this run here when OpenBLAS is absent (see the class comment). */
    static final long MAX_WORK = 128L * 128 * 128;

    private SmallVectorGemm() {
    }

    /** {@code C = alpha * op(A) * op(B) + beta * C} for {@code m, n, k > 0}; C is not read when {@code beta == 0}. */
    static void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
                     long b, int ldb, double beta, long c, int ldc) {
        if (f64) {
            SmallVectorGemmF64.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            SmallVectorGemmF32.gemm(transA, transB, m, n, k, (float) alpha, a, lda, b, ldb, (float) beta, c, ldc);
        }
    }
}
