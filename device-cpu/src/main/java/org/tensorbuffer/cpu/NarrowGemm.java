package org.tensorbuffer.cpu;

/**
 * GEMMs with a small {@code op(B)} that OpenBLAS 0.3.21 runs below its usual speed, in the Vector API:
 * {@code NarrowGemmF32} and {@code NarrowGemmF64} (generated from one template, see the package documentation), an
 * 8-row x 3-vector register tile over a zero-padded heap copy of {@code op(B)}, A read once in place in either
 * orientation, C written once. {@link Gemm} runs two shapes here, also when OpenBLAS is present (measured on this
 * project's 2-core AVX-512 machine, float64, docs/benchmarks.md, issue 14 "Round 7"):
 * <ul>
 *   <li>a narrow C, {@code 2V < n <= 3V} columns for vectors of {@code V} lanes (17..24 in float64), at least eight
 *       rows: a matrix chain contracted one matrix at a time, {@code [m, k] x [k, 21]}
 *       (str_matrix_chain_multiplication_100 of the einsum benchmark), 0.62-0.76x OpenBLAS's time on its shapes
 *       with A in cache; OpenBLAS packs all of A for a product 21 columns wide;</li>
 *   <li>a long C over a short k ({@code k <= } {@link #MAX_SHORT_K}, {@code n <=} {@link #MAX_SHORT_K_COLUMNS},
 *       {@code m >=} {@link #MIN_SHORT_K_ROWS}): the open MERA's 9 x (59049 x 81 x 50) and 196830 x 45 x 11,
 *       0.75-0.82x OpenBLAS's time, which first scales C by beta in a separate pass and then reads C back.</li>
 * </ul>
 * Larger products (e.g. 256^3, 0.85x OpenBLAS's speed here) stay with OpenBLAS. Addresses are absolute and
 * bounds-checked by the caller. Thread-safe.
 */
final class NarrowGemm {
    /**
     * Narrow products with fewer rows, or a shorter k, than this stay with OpenBLAS: the MPS instance's
     * 19 x 19 x 1265 and 2185 x 19 x 19 products were slower here (its evaluation 26 against 21-24 ms).
     */
    static final int MIN_ROWS = 32;
    /** Largest k of a short-k product. */
    static final int MAX_SHORT_K = 64;
    /** Most columns of a short-k product. */
    static final int MAX_SHORT_K_COLUMNS = 96;
    /** Fewest rows of a short-k product. */
    static final int MIN_SHORT_K_ROWS = 4096;

    private NarrowGemm() {
    }

    /** Whether a product {@code m x n x k} (float64 if {@code f64}) has one of this kernel's shapes. */
    static boolean fits(boolean f64, int m, int n, int k) {
        int v = f64 ? NarrowGemmF64.V : NarrowGemmF32.V;
        return (m >= MIN_ROWS && k >= MIN_ROWS && n > 2 * v && n <= 3 * v)
                || (k <= MAX_SHORT_K && n > 2 * v && n <= MAX_SHORT_K_COLUMNS && m >= MIN_SHORT_K_ROWS);
    }

    /** {@code C = alpha * op(A) * op(B) + beta * C} for {@code m, n, k > 0}; C is not read when {@code beta == 0}. */
    static void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
                     long b, int ldb, double beta, long c, int ldc) {
        if (f64) {
            NarrowGemmF64.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            NarrowGemmF32.gemm(transA, transB, m, n, k, (float) alpha, a, lda, b, ldb, (float) beta, c, ldc);
        }
    }
}
