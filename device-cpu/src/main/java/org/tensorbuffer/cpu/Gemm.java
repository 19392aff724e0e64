package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Locale;

/**
 * Row-major strided-batched GEMM on native addresses, {@code C = alpha * op(A) * op(B) + beta * C}, choosing
 * between these implementations:
 * <ul>
 *   <li>{@link OuterProduct} for every product with {@code k == 1} (a rank-1 product: one streaming pass over C,
 *       with or without OpenBLAS, unless OpenBLAS is forced for large products);</li>
 *   <li>a plain scalar Java loop ({@code SmallGemmF32}/{@code SmallGemmF64}, generated from one template, see the
 *       package documentation) for tiny products ({@code m * n * k <= } {@link #SMALL_WORK} with OpenBLAS,
 *       {@link #SMALL_WORK_JAVA} without), where a native call and OpenBLAS's set-up (about 100 ns) or the packing
 *       of the blocked GEMM cost more than the arithmetic (the einsum workload runs thousands of 2x2..16x16
 *       products). Scalar code is also fast before the JIT has compiled it, unlike the Vector API;</li>
 *   <li>{@link NarrowGemm} for the shapes where it was measured faster than OpenBLAS (a C of 17..24 float64
 *       columns; a long C over {@code k <= 64}), unless OpenBLAS is forced;</li>
 *   <li>OpenBLAS's {@code cblas_sgemm}/{@code cblas_dgemm} through the FFM API when the system has
 *       {@code libopenblas} (see {@link OpenBlas});</li>
 *   <li>otherwise, for products up to {@link SmallVectorGemm#MAX_WORK} with {@code m, n > 1}, the unpacked Vector
 *       API kernel of {@link SmallVectorGemm} (8-10x the blocked Java GEMM's speed at 32^3..128^3 on this project's
 *       machine; OpenBLAS, where present, was faster than it at every size measured, so it keeps those products);
 *       </li>
 *   <li>otherwise the blocked Vector API GEMM of {@link JavaGemm}, or {@link JavaGemv} for a single column
 *       ({@code n == 1}, A not transposed) or a single row ({@code m == 1}, B transposed).</li>
 * </ul>
 * The system property {@code tensorbuffer.cpu.gemm} = {@code auto} (default), {@code openblas} or {@code java}
 * forces the choice for large products. Addresses are absolute and already bounds-checked by the caller; strides
 * between batch matrices are in bytes. Thread-safe.
 */
public final class Gemm {
    /** With OpenBLAS, products with {@code m * n * k} up to this run as plain Java loops (measured crossover). */
    public static final long SMALL_WORK = 256;
    /** Without OpenBLAS, products with {@code m * n * k} up to this run as plain Java loops, not blocked. */
    public static final long SMALL_WORK_JAVA = 16L * 16 * 16;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    /** Which implementation runs products above {@link #SMALL_WORK}. */
    public enum Mode {
        /** OpenBLAS when it loads, else Java. */
        AUTO,
        /** OpenBLAS; constructing fails if it does not load. */
        OPENBLAS,
        /** The Vector API GEMM always. */
        JAVA
    }

    private final OpenBlas blas;
    private final boolean forceBlas;
    private final String description;

    private Gemm(OpenBlas blas) {
        this(blas, false);
    }

    private Gemm(OpenBlas blas, boolean forceBlas) {
        this.blas = blas;
        this.forceBlas = forceBlas;
        this.description = blas != null ? "OpenBLAS (" + blas.libraryName() + ", " + blas.coreDescription() + ")"
                : "Java Vector API (" + JavaGemm.describe() + ")";
    }

    /**
     * The GEMM for {@code mode}.
     *
     * @throws IllegalStateException for {@link Mode#OPENBLAS} if OpenBLAS cannot be loaded (the message says why)
     */
    public static Gemm of(Mode mode) {
        return switch (mode) {
            case JAVA -> new Gemm(null);
            case AUTO -> new Gemm(OpenBlas.load().orElse(null));
            case OPENBLAS -> new Gemm(OpenBlas.load().orElseThrow(() -> new IllegalStateException(
                    "tensorbuffer.cpu.gemm=openblas but OpenBLAS is unavailable: " + OpenBlas.loadError())), true);
        };
    }

    /**
     * The GEMM chosen by the system property {@code tensorbuffer.cpu.gemm} ({@code auto}, {@code openblas},
     * {@code java}; default {@code auto}).
     *
     * @throws IllegalArgumentException for another value
     */
    public static Gemm fromSystemProperty() {
        String v = System.getProperty("tensorbuffer.cpu.gemm", "auto").trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto", "" -> of(Mode.AUTO);
            case "openblas" -> of(Mode.OPENBLAS);
            case "java" -> of(Mode.JAVA);
            default -> throw new IllegalArgumentException("tensorbuffer.cpu.gemm must be auto, openblas or java, got '"
                    + v + "'");
        };
    }

    /** E.g. {@code OpenBLAS (libopenblas.so.0, SkylakeX core: ...)} or {@code Java Vector API (...)}. */
    public String description() {
        return description;
    }

    /** Threads a large product runs on: OpenBLAS's thread count, or the common fork-join pool's parallelism. */
    public int threads() {
        return blas != null && blas.threads() > 0 ? blas.threads()
                : Math.max(1, java.util.concurrent.ForkJoinPool.getCommonPoolParallelism());
    }

    /**
     * Whether a float32 matrix-vector product ({@code rows x k} matrix with contiguous rows) above
     * {@link #SMALL_WORK} runs in {@link CpuKernels}' own row-blocked GEMV (rows split over the kernels' threads,
     * each block {@link #gemvBlas()}'s {@code cblas_sgemv} or {@link GemvF32}) rather than through {@link #run}:
     * always, unless OpenBLAS was forced ({@link Mode#OPENBLAS}: one {@code cblas_sgemv} per product).
     */
    boolean javaGemvF32() {
        return !forceBlas;
    }

    /**
     * The OpenBLAS whose {@code cblas_sgemv} runs the row blocks of {@link CpuKernels}' float32 matrix-vector
     * products, or {@code null} for {@link GemvF32} (no OpenBLAS, or {@link Mode#JAVA}). Measured per decode shape
     * on this project's 2-core AVX-512 machine (docs/benchmarks.md, issue 14, "Round 7: the GEMV"): OpenBLAS
     * 0.3.21's {@code sgemv} was ahead of {@link GemvF32} where the decode's matrices are read from (L2 for
     * stories260K's 64-wide rows, by 1.5-2.6x; memory for the larger models, by 4-20%); it was behind by 10-15% only
     * on 288-512-wide rows read from L2, which no decode measured here reads hot.
     */
    OpenBlas gemvBlas() {
        return forceBlas ? null : blas;
    }

    /** Whether products above {@link #SMALL_WORK} go to OpenBLAS. */
    public boolean usesOpenBlas() {
        return blas != null;
    }

    /**
     * Runs {@code batch} GEMMs. Sizes are validated by the caller; {@code m, n > 0}; batch strides in bytes.
     */
    void run(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha,
             long a, int lda, long strideA, long b, int ldb, long strideB, double beta,
             long c, int ldc, long strideC, int batch) {
        if (k == 0 || alpha == 0) {
            for (int i = 0; i < batch; i++) {
                scaleC(f64, m, n, beta, c + i * strideC, ldc);
            }
            return;
        }
        long work = (long) m * n * k;
        if (k == 1 && (!forceBlas || work <= SMALL_WORK)) {
            OuterProduct.run(f64, transA, transB, m, n, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC,
                    batch);
            return;
        }
        if (work <= (blas != null ? SMALL_WORK : SMALL_WORK_JAVA)) {
            for (int i = 0; i < batch; i++) {
                if (f64) {
                    SmallGemmF64.gemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb,
                            beta, c + i * strideC, ldc);
                } else {
                    SmallGemmF32.gemm(transA, transB, m, n, k, (float) alpha, a + i * strideA, lda,
                            b + i * strideB, ldb, (float) beta, c + i * strideC, ldc);
                }
            }
        } else if (!forceBlas && NarrowGemm.fits(f64, m, n, k)) {
            for (int i = 0; i < batch; i++) {
                NarrowGemm.gemm(f64, transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb,
                        beta, c + i * strideC, ldc);
            }
        } else if (blas != null) {
            for (int i = 0; i < batch; i++) {
                blas.gemm(f64, transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta,
                        c + i * strideC, ldc);
            }
        } else if (work <= SmallVectorGemm.MAX_WORK && n > 1 && m > 1) {
            for (int i = 0; i < batch; i++) {
                SmallVectorGemm.gemm(f64, transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb,
                        beta, c + i * strideC, ldc);
            }
        } else if (n == 1 && !transA) {
            // y = C[:, 0] = A x: contiguous rows of A dotted with x = op(B)[:, 0]
            for (int i = 0; i < batch; i++) {
                JavaGemv.gemv(f64, m, k, alpha, a + i * strideA, lda, b + i * strideB, transB ? 1 : ldb, beta,
                        c + i * strideC, ldc);
            }
        } else if (m == 1 && transB) {
            // y = C[0, :] = B_stored x: contiguous rows of the stored (n x k) B dotted with x = op(A)[0, :]
            for (int i = 0; i < batch; i++) {
                JavaGemv.gemv(f64, n, k, alpha, b + i * strideB, ldb, a + i * strideA, transA ? lda : 1, beta,
                        c + i * strideC, 1);
            }
        } else {
            for (int i = 0; i < batch; i++) {
                JavaGemm.gemm(f64, transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb,
                        beta, c + i * strideC, ldc);
            }
        }
    }

    /** {@code C = beta * C}; with {@code beta == 0} C is overwritten with zeros without being read. */
    static void scaleC(boolean f64, int m, int n, double beta, long c, int ldc) {
        int es = f64 ? 8 : 4;
        for (int i = 0; i < m; i++) {
            long row = c + (long) i * ldc * es;
            if (beta == 0) {
                ALL.asSlice(row, (long) n * es).fill((byte) 0);
            } else if (beta != 1) {
                for (int j = 0; j < n; j++) {
                    if (f64) {
                        ALL.set(D, row + j * 8L, beta * ALL.get(D, row + j * 8L));
                    } else {
                        ALL.set(F, row + j * 4L, (float) beta * ALL.get(F, row + j * 4L));
                    }
                }
            }
        }
    }
}
