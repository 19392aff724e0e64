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
 * bound with the FFM API. Loaded once, lazily; {@link #load()} never throws and {@link #loadError()} says why it
 * failed. Thread-safe (OpenBLAS is).
 */
final class OpenBlas {
    private static final int CBLAS_ROW_MAJOR = 101;
    private static final int CBLAS_NO_TRANS = 111;
    private static final int CBLAS_TRANS = 112;
    private static final String[] LIBRARY_NAMES = {
        "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.0.dylib"
    };

    private final String libraryName;
    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final int threads;

    private OpenBlas(String libraryName, MethodHandle sgemm, MethodHandle dgemm, int threads) {
        this.libraryName = libraryName;
        this.sgemm = sgemm;
        this.dgemm = dgemm;
        this.threads = threads;
    }

    private static final class Holder {
        static final OpenBlas INSTANCE;
        static final String ERROR;

        static {
            OpenBlas blas = null;
            StringBuilder errors = new StringBuilder();
            for (String name : LIBRARY_NAMES) {
                try {
                    blas = bind(name);
                    break;
                } catch (RuntimeException | LinkageError e) {
                    errors.append(errors.isEmpty() ? "" : "; ").append(name).append(": ").append(e.getMessage());
                }
            }
            INSTANCE = blas;
            ERROR = blas == null ? "no OpenBLAS library found (" + errors + "); install libopenblas0" : null;
        }
    }

    /** The system OpenBLAS, or empty if none could be loaded. */
    static Optional<OpenBlas> load() {
        return Optional.ofNullable(Holder.INSTANCE);
    }

    /** Why {@link #load()} is empty, or {@code null} if it is not. */
    static String loadError() {
        return Holder.ERROR;
    }

    private static OpenBlas bind(String name) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup lib = SymbolLookup.libraryLookup(name, Arena.global());
        MemorySegment s = lib.find("cblas_sgemm").orElseThrow(() -> new IllegalArgumentException("no cblas_sgemm"));
        MemorySegment d = lib.find("cblas_dgemm").orElseThrow(() -> new IllegalArgumentException("no cblas_dgemm"));
        var i = ValueLayout.JAVA_INT;
        var p = ValueLayout.ADDRESS;
        // void cblas_?gemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
        MethodHandle sgemm = linker.downcallHandle(s, FunctionDescriptor.ofVoid(i, i, i, i, i, i,
                ValueLayout.JAVA_FLOAT, p, i, p, i, ValueLayout.JAVA_FLOAT, p, i));
        MethodHandle dgemm = linker.downcallHandle(d, FunctionDescriptor.ofVoid(i, i, i, i, i, i,
                ValueLayout.JAVA_DOUBLE, p, i, p, i, ValueLayout.JAVA_DOUBLE, p, i));
        int threads = -1;
        var numThreads = lib.find("openblas_get_num_threads");
        if (numThreads.isPresent()) {
            try {
                threads = (int) linker.downcallHandle(numThreads.get(), FunctionDescriptor.of(i)).invokeExact();
            } catch (Throwable t) {
                threads = -1;
            }
        }
        return new OpenBlas(name, sgemm, dgemm, threads);
    }

    /** The library file name that was loaded, e.g. {@code libopenblas.so.0}. */
    String libraryName() {
        return libraryName;
    }

    /** OpenBLAS's thread count, or -1 if it does not say. */
    int threads() {
        return threads;
    }

    /** Row-major {@code cblas_?gemm} on absolute addresses. */
    void gemm(boolean f64, boolean transA, boolean transB, int m, int n, int k, double alpha, long a, int lda,
              long b, int ldb, double beta, long c, int ldc) {
        int ta = transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
        int tb = transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
        MemorySegment pa = MemorySegment.ofAddress(a);
        MemorySegment pb = MemorySegment.ofAddress(b);
        MemorySegment pc = MemorySegment.ofAddress(c);
        try {
            if (f64) {
                dgemm.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            } else {
                sgemm.invokeExact(CBLAS_ROW_MAJOR, ta, tb, m, n, k, (float) alpha, pa, lda, pb, ldb, (float) beta,
                        pc, ldc);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_" + (f64 ? "d" : "s") + "gemm failed", t);
        }
    }
}
