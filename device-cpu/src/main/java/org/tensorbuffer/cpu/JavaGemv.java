package org.tensorbuffer.cpu;

/**
 * Matrix-vector products {@code y[i] = alpha * dot(M[i, :], x) + beta * y[i]} in Java with the Vector API, for
 * one-column or one-row GEMMs whose matrix rows are contiguous (the decode step's {@code W x}) when OpenBLAS is
 * absent: the blocked {@link JavaGemm} would pad the single column to a whole micro-tile. {@code x} is first copied
 * to the Java heap; rows run in parallel on the common fork-join pool for large matrices. With {@code beta == 0},
 * {@code y} is not read. Addresses are absolute and bounds-checked by the caller. Thread-safe.
 *
 * <p>The loops are {@code JavaGemvF32} and {@code JavaGemvF64}, generated at build time from the one template
 * {@code src/main/java-templates/org/tensorbuffer/cpu/JavaGemv-X.java.template} (see the package documentation).
 */
final class JavaGemv {
    /** Matrices with at least this many elements run their rows in parallel. */
    static final long PARALLEL_ELEMENTS = 1 << 20;

    private JavaGemv() {
    }

    /**
     * {@code rows} dot products of length {@code k}: row {@code i} of the matrix starts at {@code mat + i * ld}
     * elements; {@code x} and {@code y} have element strides {@code incX} and {@code incY}.
     */
    static void gemv(boolean f64, int rows, int k, double alpha, long mat, int ld, long x, int incX, double beta,
                     long y, int incY) {
        if (f64) {
            JavaGemvF64.gemv(rows, k, alpha, mat, ld, x, incX, beta, y, incY);
        } else {
            JavaGemvF32.gemv(rows, k, (float) alpha, mat, ld, x, incX, (float) beta, y, incY);
        }
    }
}
