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
 * bound with the FFM API. Loaded once, lazily, on the first {@link #load()}; {@link #load()} never throws and
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

        static {
            String name = null;
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
                    h = new MethodHandle[] {
                        linker.downcallHandle(s, sd), linker.downcallHandle(d, dd),
                        linker.downcallHandle(s, sd, critical), linker.downcallHandle(d, dd, critical)
                    };
                    var numThreads = lib.find("openblas_get_num_threads");
                    if (numThreads.isPresent()) {
                        threads = (int) linker.downcallHandle(numThreads.get(), FunctionDescriptor.of(i))
                                .invokeExact();
                    }
                    name = candidate;
                    break;
                } catch (Throwable e) {
                    errors.append(errors.isEmpty() ? "" : "; ").append(candidate).append(": ").append(e.getMessage());
                    h = null;
                }
            }
            NAME = name;
            THREADS = threads;
            ERROR = name == null ? "no OpenBLAS library found (" + errors + "); install libopenblas0" : null;
            SGEMM = h == null ? null : h[0];
            DGEMM = h == null ? null : h[1];
            SGEMM_CRITICAL = h == null ? null : h[2];
            DGEMM_CRITICAL = h == null ? null : h[3];
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

    /** OpenBLAS's thread count, or -1 if it does not say. */
    int threads() {
        return Lib.THREADS;
    }

    /** Row-major {@code cblas_?gemm} on absolute addresses. */
    void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
              long b, int ldb, double beta, long c, int ldc) {
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
}
