package org.tensorbuffer.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * {@code cblas_sgemm} and {@code cblas_dgemm} of a system OpenBLAS (Debian {@code libopenblas0}, 32-bit integers)
 * bound with the FFM API, with {@code cblas_?gemv} and, where the library exports it, the single-threaded float32
 * {@code sgemv_t} kernel of the running core ({@link #sgemvKernelRows}). Loaded once, lazily, on the first {@link #load()}; {@link #load()} never throws and
 * {@link #loadError()} says why it failed. The method handles are {@code static final} so that the JIT inlines the
 * downcalls. Thread-safe (OpenBLAS is).
 */
final class OpenBlas {
    /**
     * Products up to this many multiply-adds use {@link Linker.Option#critical critical} downcalls, which skip the
     * thread-state transition (tens of nanoseconds) but hold off safepoints, and so the GC, while they run: acceptable
     * only for calls of a few microseconds.
     */
    static final long CRITICAL_WORK = 64L * 64 * 64;

    /**
     * OpenBLAS runs a {@code cblas_?gemv} on one thread when the matrix has fewer than {@code 2304 *
     * GEMM_MULTITHREAD_THRESHOLD} elements (threshold 4 by default; {@code interface/gemv.c} of OpenBLAS 0.3.21), and
     * on its own threads above. {@link CpuKernels} keeps its calls below this when OpenBLAS has several threads, so
     * that the kernels' own threads are the only ones.
     */
    static final long GEMV_SINGLE_THREAD_ELEMENTS = 2304L * 4;
    /** Matrix-vector products up to this many matrix elements use critical downcalls (see {@link #CRITICAL_WORK}). */
    static final long CRITICAL_GEMV_ELEMENTS = 1L << 15;

    private static final int CBLAS_ROW_MAJOR = 101;
    private static final int CBLAS_NO_TRANS = 111;
    private static final int CBLAS_TRANS = 112;
    private static final String[] LIBRARY_NAMES = {
        "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.0.dylib"
    };
    private static final OpenBlas INSTANCE = new OpenBlas();

    private OpenBlas() {
    }

    /** Binds the library on first use; all fields are null when it is missing. */
    private static final class Lib {
        static final String NAME;
        static final String ERROR;
        static final int THREADS;
        static final MethodHandle SGEMM;
        static final MethodHandle DGEMM;
        static final MethodHandle SGEMM_CRITICAL;
        static final MethodHandle DGEMM_CRITICAL;
        static final MethodHandle SGEMV;
        static final MethodHandle DGEMV;
        static final MethodHandle SGEMV_CRITICAL;
        /** OpenBLAS's single-threaded float32 {@code gemv_t} kernel of the running core, or null. */
        static final MethodHandle SGEMV_T_KERNEL;
        /** The symbol {@link #SGEMV_T_KERNEL} was bound to, or why it was not. */
        static final String SGEMV_T_KERNEL_NAME;
        /** The core OpenBLAS runs ({@code openblas_get_corename}), or null when it does not say. */
        static final String CORE;

        static {
            BlasCore.apply();
            String name = null;
            SymbolLookup found = null;
            MethodHandle[] h = null;
            int threads = -1;
            StringBuilder errors = new StringBuilder();
            for (String candidate : LIBRARY_NAMES) {
                try {
                    Linker linker = Linker.nativeLinker();
                    SymbolLookup lib = SymbolLookup.libraryLookup(candidate, Arena.global());
                    MemorySegment s = lib.find("cblas_sgemm")
                            .orElseThrow(() -> new IllegalArgumentException("no cblas_sgemm in " + candidate));
                    MemorySegment d = lib.find("cblas_dgemm")
                            .orElseThrow(() -> new IllegalArgumentException("no cblas_dgemm in " + candidate));
                    var i = ValueLayout.JAVA_INT;
                    var p = ValueLayout.ADDRESS;
                    // void cblas_?gemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
                    FunctionDescriptor sd = FunctionDescriptor.ofVoid(i, i, i, i, i, i, ValueLayout.JAVA_FLOAT, p, i,
                            p, i, ValueLayout.JAVA_FLOAT, p, i);
                    FunctionDescriptor dd = FunctionDescriptor.ofVoid(i, i, i, i, i, i, ValueLayout.JAVA_DOUBLE, p,
                            i, p, i, ValueLayout.JAVA_DOUBLE, p, i);
                    Linker.Option critical = Linker.Option.critical(false);
                    MemorySegment sv = lib.find("cblas_sgemv")
                            .orElseThrow(() -> new IllegalArgumentException("no cblas_sgemv in " + candidate));
                    MemorySegment dv = lib.find("cblas_dgemv")
                            .orElseThrow(() -> new IllegalArgumentException("no cblas_dgemv in " + candidate));
                    // void cblas_?gemv(order, trans, M, N, alpha, A, lda, X, incX, beta, Y, incY)
                    FunctionDescriptor svd = FunctionDescriptor.ofVoid(i, i, i, i, ValueLayout.JAVA_FLOAT, p, i, p, i,
                            ValueLayout.JAVA_FLOAT, p, i);
                    FunctionDescriptor dvd = FunctionDescriptor.ofVoid(i, i, i, i, ValueLayout.JAVA_DOUBLE, p, i, p,
                            i, ValueLayout.JAVA_DOUBLE, p, i);
                    h = new MethodHandle[] {
                        linker.downcallHandle(s, sd), linker.downcallHandle(d, dd),
                        linker.downcallHandle(s, sd, critical), linker.downcallHandle(d, dd, critical),
                        linker.downcallHandle(sv, svd), linker.downcallHandle(dv, dvd),
                        linker.downcallHandle(sv, svd, critical)
                    };
                    var numThreads = lib.find("openblas_get_num_threads");
                    if (numThreads.isPresent()) {
                        threads = (int) linker.downcallHandle(numThreads.get(), FunctionDescriptor.of(i))
                                .invokeExact();
                    }
                    name = candidate;
                    found = lib;
                    break;
                } catch (Throwable e) {
                    errors.append(errors.isEmpty() ? "" : "; ").append(candidate).append(": ").append(e.getMessage());
                    h = null;
                }
            }
            NAME = name;
            THREADS = threads;
            MethodHandle kernel = null;
            String kernelName = "not bound: no OpenBLAS";
            String loadedCore = null;
            if (found != null) {
                try {
                    kernelName = "not bound";
                    Linker linker = Linker.nativeLinker();
                    var p = ValueLayout.ADDRESS;
                    var l = ValueLayout.JAVA_LONG;
                    var core = found.find("openblas_get_corename");
                    if (core.isPresent()) {
                        MemorySegment c = (MemorySegment) linker.downcallHandle(core.get(), FunctionDescriptor.of(p))
                                .invokeExact();
                        String coreName = c.reinterpret(64).getString(0).trim();
                        loadedCore = coreName.isEmpty() ? null : coreName;
                        String symbol = "sgemv_t_" + coreName.toUpperCase(java.util.Locale.ROOT);
                        kernelName = "not bound: no " + symbol;
                        var sym = found.find(symbol);
                        if (!coreName.isEmpty() && sym.isPresent()) {
                            // int sgemv_t(BLASLONG m, BLASLONG n, BLASLONG dummy, float alpha, float *a,
                            //             BLASLONG lda, float *x, BLASLONG incx, float *y, BLASLONG incy,
                            //             float *buffer)
                            kernel = linker.downcallHandle(sym.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, l,
                                    l, l, ValueLayout.JAVA_FLOAT, p, l, p, l, p, l, p));
                            kernelName = symbol;
                        }
                    }
                } catch (Throwable e) {
                    kernel = null;
                    kernelName = "not bound: " + e.getMessage();
                }
            }
            SGEMV_T_KERNEL = kernel;
            SGEMV_T_KERNEL_NAME = kernelName;
            CORE = loadedCore;
            ERROR = name == null ? "no OpenBLAS library found (" + errors + "); install libopenblas0" : null;
            SGEMM = h == null ? null : h[0];
            DGEMM = h == null ? null : h[1];
            SGEMM_CRITICAL = h == null ? null : h[2];
            DGEMM_CRITICAL = h == null ? null : h[3];
            SGEMV = h == null ? null : h[4];
            DGEMV = h == null ? null : h[5];
            SGEMV_CRITICAL = h == null ? null : h[6];
        }
    }

    /** The system OpenBLAS, or empty if none could be loaded. */
    static Optional<OpenBlas> load() {
        return Lib.NAME == null ? Optional.empty() : Optional.of(INSTANCE);
    }

    /** Why {@link #load()} is empty, or {@code null} if it is not. */
    static String loadError() {
        return Lib.ERROR;
    }

    /** The library file name that was loaded, e.g. {@code libopenblas.so.0}. */
    String libraryName() {
        return Lib.NAME;
    }

    /**
     * The kernel set OpenBLAS runs and why, e.g. {@code SkylakeX core: auto: the CPU has AVX-512 ...}; see
     * {@link BlasCore}.
     */
    String coreDescription() {
        return (Lib.CORE == null ? "core unknown" : Lib.CORE + " core") + ": " + BlasCore.reason();
    }

    /** The core name OpenBLAS reports ({@code openblas_get_corename}, e.g. {@code SkylakeX}), or null. */
    String coreName() {
        return Lib.CORE;
    }

    /** OpenBLAS's thread count, or -1 if it does not say. */
    int threads() {
        return Lib.THREADS;
    }

    /**
     * Whether {@link #sgemvKernelRows} can run: the library exports the single-threaded {@code sgemv_t} kernel of the
     * core it runs on ({@code sgemv_t_<CORE>} of a {@code DYNAMIC_ARCH} build, as Debian's, with {@code <CORE>} from
     * {@code openblas_get_corename}).
     */
    boolean hasSgemvKernel() {
        return Lib.SGEMV_T_KERNEL != null;
    }

    /** The kernel symbol {@link #sgemvKernelRows} calls, or why there is none (e.g. {@code sgemv_t_SKYLAKEX}). */
    String sgemvKernelName() {
        return Lib.SGEMV_T_KERNEL_NAME;
    }

    /** Per thread: a scratch buffer for the kernel ({@code interface/gemv.c} gives it {@code m + n + 32} floats). */
    private static final ThreadLocal<MemorySegment[]> KERNEL_BUFFER =
            ThreadLocal.withInitial(() -> new MemorySegment[1]);

    /**
     * {@code y[i] = alpha * dot(M[i, :], x)} ({@code beta == 0}: {@code y} zeroed first, not read) or
     * {@code y[i] += alpha * dot(M[i, :], x)} ({@code beta == 1}) for the {@code rows} rows of a row-major float32
     * matrix, by OpenBLAS's single-threaded {@code sgemv_t} kernel of the running core called directly, as
     * {@code cblas_sgemv} calls it when it runs on one thread ({@code interface/gemv.c} of OpenBLAS 0.3.21: the
     * row-major no-transpose product is the column-major {@code gemv_t} with {@code m = k} and {@code n = rows};
     * beta is applied first, then the kernel adds {@code alpha} times the sums). It never starts OpenBLAS's threads,
     * whatever {@code OPENBLAS_NUM_THREADS} says, so the kernels' own threads can each run one call over a whole row
     * block without cutting it below OpenBLAS's threading threshold; the sums are the bits of a single-threaded
     * {@code cblas_sgemv} (checked in {@code ThreadedGemvTest}). Only with {@link #hasSgemvKernel()};
     * {@code rows, k > 0}; addresses absolute and bounds-checked by the caller. The per-thread scratch buffer lives as
     * long as its thread.
     *
     * @throws IllegalArgumentException if {@code beta} is neither 0 nor 1
     */
    void sgemvKernelRows(int rows, int k, float alpha, long mat, int ld, long x, int incX, float beta, long y,
                         int incY) {
        if (beta == 0) {
            zero(false, y, rows, incY);
        } else if (beta != 1) {
            throw new IllegalArgumentException("sgemvKernelRows: beta must be 0 or 1, got " + beta);
        }
        long need = ((long) k + rows + 32) * 4 + 64;
        MemorySegment[] holder = KERNEL_BUFFER.get();
        MemorySegment buf = holder[0];
        if (buf == null || buf.byteSize() < need) {
            buf = Arena.ofAuto().allocate(Math.max(need, 1L << 16), 64);
            holder[0] = buf;
        }
        try {
            int unused = (int) Lib.SGEMV_T_KERNEL.invokeExact((long) k, (long) rows, 0L, alpha,
                    MemorySegment.ofAddress(mat), (long) ld, MemorySegment.ofAddress(x), (long) incX,
                    MemorySegment.ofAddress(y), (long) incY, buf);
        } catch (Throwable t) {
            throw new IllegalStateException(Lib.SGEMV_T_KERNEL_NAME + " failed", t);
        }
    }

    /**
     * Row-major {@code cblas_?gemm} on absolute addresses. A product with one column ({@code n == 1}) or one row
     * ({@code m == 1}) goes to {@code cblas_?gemv} instead (the decode matrix-vector products), which does not pack
     * panels as GEMM does; with {@code beta == 0} the output vector is zeroed first so that NaNs in it cannot
     * propagate whatever the BLAS does with {@code 0 * y}.
     */
    void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
              long b, int ldb, double beta, long c, int ldc) {
        if (n == 1 || m == 1) {
            gemv(f64, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        int ta = transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
        int tb = transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
        MemorySegment pa = MemorySegment.ofAddress(a);
        MemorySegment pb = MemorySegment.ofAddress(b);
        MemorySegment pc = MemorySegment.ofAddress(c);
        boolean small = (long) m * n * k <= CRITICAL_WORK;
        try {
            if (f64) {
                if (small) {
                    Lib.DGEMM_CRITICAL.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta,
                            pc, ldc);
                } else {
                    Lib.DGEMM.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                }
            } else {
                float fa = (float) alpha;
                float fb = (float) beta;
                if (small) {
                    Lib.SGEMM_CRITICAL.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, fa, pa, lda, pb, ldb, fb, pc,
                            ldc);
                } else {
                    Lib.SGEMM.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, fa, pa, lda, pb, ldb, fb, pc, ldc);
                }
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_" + (f64 ? "d" : "s") + "gemm failed", t);
        }
    }

    /**
     * {@code y[i] = alpha * dot(M[i, :], x) + beta * y[i]} for the {@code rows} rows of a row-major float32 matrix
     * ({@code ld} elements apart) as one {@code cblas_sgemv}; {@code x} and {@code y} have element strides
     * {@code incX}, {@code incY}. With {@code beta == 0}, {@code y} is zeroed first (not read: NaNs in it do not
     * propagate). Addresses are absolute and bounds-checked by the caller; {@code rows, k > 0}.
     */
    void sgemvRows(int rows, int k, float alpha, long mat, int ld, long x, int incX, float beta, long y, int incY) {
        if (beta == 0) {
            zero(false, y, rows, incY);
        }
        MemorySegment pm = MemorySegment.ofAddress(mat);
        MemorySegment px = MemorySegment.ofAddress(x);
        MemorySegment py = MemorySegment.ofAddress(y);
        try {
            if ((long) rows * k <= CRITICAL_GEMV_ELEMENTS) {
                Lib.SGEMV_CRITICAL.invokeExact(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, rows, k, alpha, pm, ld, px, incX, beta,
                        py, incY);
            } else {
                Lib.SGEMV.invokeExact(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, rows, k, alpha, pm, ld, px, incX, beta, py,
                        incY);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemv failed", t);
        }
    }

    /**
     * Sets the {@code len} elements of a vector at {@code y} ({@code incY} elements apart) to +0.0 before a
     * {@code ?gemv} with {@code beta == 0}, which scales y by beta instead of ignoring it: NaNs or infinities left in
     * the output (it is not read) would otherwise propagate.
     */
    private static void zero(boolean f64, long y, int len, int incY) {
        int es = f64 ? 8 : 4;
        if (incY == 1) {
            NativeMemory.ALL.asSlice(y, (long) len * es).fill((byte) 0);
            return;
        }
        long step = (long) incY * es;
        for (int i = 0; i < len; i++) {
            if (f64) {
                NativeMemory.ALL.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, y + i * step, 0.0);
            } else {
                NativeMemory.ALL.set(ValueLayout.JAVA_FLOAT_UNALIGNED, y + i * step, 0.0f);
            }
        }
    }

    /** {@link #gemm} for {@code n == 1} or {@code m == 1} as one {@code cblas_?gemv}. */
    private void gemv(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
                      long b, int ldb, double beta, long c, int ldc) {
        int trans;
        int rows;
        int cols;
        long mat;
        int ld;
        long x;
        int incX;
        int len; // length of y
        int incY;
        if (n == 1) {
            // y = C[:, 0] (stride ldc) = op(A) x with x = op(B)[:, 0]; stored A is (transA ? k x m : m x k).
            trans = transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
            rows = transA ? k : m;
            cols = transA ? m : k;
            mat = a;
            ld = lda;
            x = b;
            incX = transB ? 1 : ldb;
            len = m;
            incY = ldc;
        } else {
            // y = C[0, :] = op(B)^T x with x = op(A)[0, :]; stored B is (transB ? n x k : k x n).
            trans = transB ? CBLAS_NO_TRANS : CBLAS_TRANS;
            rows = transB ? n : k;
            cols = transB ? k : n;
            mat = b;
            ld = ldb;
            x = a;
            incX = transA ? lda : 1;
            len = n;
            incY = 1;
        }
        if (beta == 0) {
            zero(f64, c, len, incY);
        }
        MemorySegment pm = MemorySegment.ofAddress(mat);
        MemorySegment px = MemorySegment.ofAddress(x);
        MemorySegment py = MemorySegment.ofAddress(c);
        try {
            if (f64) {
                Lib.DGEMV.invokeExact(CBLAS_ROW_MAJOR, trans, rows, cols, alpha, pm, ld, px, incX, beta, py, incY);
            } else {
                Lib.SGEMV.invokeExact(CBLAS_ROW_MAJOR, trans, rows, cols, (float) alpha, pm, ld, px, incX,
                        (float) beta, py, incY);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_" + (f64 ? "d" : "s") + "gemv failed", t);
        }
    }
}
