package org.tensorbuffer.cpu;

/** Placeholder: replaced by the blocked Vector API GEMM. */
final class JavaGemm {
    private JavaGemm() {
    }

    static String describe() {
        return "plain loops";
    }

    static void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a,
                     int lda, long b, int ldb, double beta, long c, int ldc) {
        if (f64) {
            Gemm.smallF64(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } else {
            Gemm.smallF32(transA, transB, m, n, k, (float) alpha, a, lda, b, ldb, (float) beta, c, ldc);
        }
    }
}
