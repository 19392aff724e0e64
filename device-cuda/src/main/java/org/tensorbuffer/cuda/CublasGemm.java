package org.tensorbuffer.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tensorbuffer.types.DType;

/**
 * GEMM through cuBLAS, bound with the FFM API on whichever {@code libcublas.so.*} is found (JCublas would need exactly
 * {@code libcublas.so.12}; GPU machines with CUDA 13 have {@code .13}). Bound functions: {@code cublasCreate_v2},
 * {@code cublasSetStream_v2}, {@code cublasDestroy_v2}, {@code cublasSgemm_v2}, {@code cublasDgemm_v2},
 * {@code cublasSgemmStridedBatched}, {@code cublasDgemmStridedBatched} (signatures from {@code cublas_api.h}).
 *
 * <p>Row-major through the usual swap: a row-major {@code C = op(A) op(B)} is the column-major
 * {@code C^T = op(B)^T op(A)^T}, so cuBLAS is called with the operands exchanged, {@code m} and {@code n} exchanged and
 * the same leading dimensions. Scalars are passed by host pointer (cuBLAS's default pointer mode), so calls are
 * serialised on this object. The math mode stays cuBLAS's default: no TF32 for F32.
 *
 * <p>Where the library is looked for, in order: the system property {@value #PROPERTY} (a file path), the dynamic
 * loader's search path ({@code LD_LIBRARY_PATH}, the ldconfig cache) for {@code libcublas.so.13}, {@code .12},
 * {@code .11} and {@code libcublas.so}, then {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64},
 * {@code /usr/local/cuda/targets/x86_64-linux/lib} and {@code /usr/lib/x86_64-linux-gnu}.
 */
final class CublasGemm implements GemmEngine {
    /** System property naming the cuBLAS library file to use. */
    static final String PROPERTY = "tensorbuffer.cuda.cublas";
    private static final int OP_N = 0;
    private static final int OP_T = 1;
    private static final Pattern VERSIONED = Pattern.compile("libcublas\\.so\\.(\\d+)(?:\\.[\\d.]+)?");

    private static volatile Library library;
    private static volatile boolean searched;

    private final Library lib;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final MemorySegment scalars;

    /** The bound entry points of one loaded library. */
    private record Library(String name, MethodHandle create, MethodHandle setStream, MethodHandle destroy,
                           MethodHandle sgemm, MethodHandle dgemm, MethodHandle sgemmBatched,
                           MethodHandle dgemmBatched) {
    }

    private CublasGemm(Library lib, long stream) {
        this.lib = lib;
        MemorySegment out = arena.allocate(ADDRESS);
        check(invoke(() -> (int) lib.create.invokeExact(out)), "cublasCreate_v2");
        handle = out.get(ADDRESS, 0);
        check(invoke(() -> (int) lib.setStream.invokeExact(handle, MemorySegment.ofAddress(stream))),
                "cublasSetStream_v2");
        scalars = arena.allocate(16, 8);
    }

    /**
     * A cuBLAS engine on {@code stream} (a raw {@code CUstream}), or {@code null} if no cuBLAS library is found. The
     * device's context must be current.
     *
     * @throws CudaException if the library is found but {@code cublasCreate_v2} fails
     */
    static CublasGemm open(long stream) {
        Library l = locate();
        return l == null ? null : new CublasGemm(l, stream);
    }

    /**
     * A cuBLAS engine bound to the library file {@code path} (tests: a stub built with gcc that records calls).
     *
     * @throws IllegalArgumentException naming the file if it cannot be loaded or lacks a bound function
     */
    static CublasGemm open(Path path, long stream) {
        Library l = tryLoad(path.toString());
        if (l == null) {
            throw new IllegalArgumentException(path + ": not a cuBLAS library with the functions CublasGemm binds");
        }
        return new CublasGemm(l, stream);
    }

    /** The file name of the cuBLAS library that {@link #open} would use, or {@code null} if none is found. */
    static String libraryName() {
        Library l = locate();
        return l == null ? null : l.name;
    }

    @Override
    public String description() {
        return "cuBLAS (" + lib.name + ")";
    }

    @Override
    public synchronized void gemm(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                                  long a, int lda, long strideA, long b, int ldb, long strideB, double beta,
                                  long c, int ldc, long strideC, int batch) {
        MemorySegment pa = MemorySegment.ofAddress(a);
        MemorySegment pb = MemorySegment.ofAddress(b);
        MemorySegment pc = MemorySegment.ofAddress(c);
        MemorySegment alphaP = scalars;
        MemorySegment betaP = scalars.asSlice(8);
        int opA = transB ? OP_T : OP_N; // cuBLAS's first operand is our B
        int opB = transA ? OP_T : OP_N;
        boolean single = batch == 1;
        if (dtype == DType.F32) {
            alphaP.set(JAVA_FLOAT, 0, (float) alpha);
            betaP.set(JAVA_FLOAT, 0, (float) beta);
            if (single) {
                check(invoke(() -> (int) lib.sgemm.invokeExact(handle, opA, opB, n, m, k, alphaP, pb, ldb, pa, lda,
                        betaP, pc, ldc)), "cublasSgemm_v2");
            } else {
                check(invoke(() -> (int) lib.sgemmBatched.invokeExact(handle, opA, opB, n, m, k, alphaP, pb, ldb,
                        strideB, pa, lda, strideA, betaP, pc, ldc, strideC, batch)), "cublasSgemmStridedBatched");
            }
        } else {
            alphaP.set(JAVA_DOUBLE, 0, alpha);
            betaP.set(JAVA_DOUBLE, 0, beta);
            if (single) {
                check(invoke(() -> (int) lib.dgemm.invokeExact(handle, opA, opB, n, m, k, alphaP, pb, ldb, pa, lda,
                        betaP, pc, ldc)), "cublasDgemm_v2");
            } else {
                check(invoke(() -> (int) lib.dgemmBatched.invokeExact(handle, opA, opB, n, m, k, alphaP, pb, ldb,
                        strideB, pa, lda, strideA, betaP, pc, ldc, strideC, batch)), "cublasDgemmStridedBatched");
            }
        }
    }

    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            invoke(() -> (int) lib.destroy.invokeExact(handle));
            arena.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static Library locate() {
        if (!searched) {
            synchronized (CublasGemm.class) {
                if (!searched) {
                    library = search();
                    searched = true;
                }
            }
        }
        return library;
    }

    private static Library search() {
        List<String> candidates = new ArrayList<>();
        String explicit = System.getProperty(PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            candidates.add(explicit);
        }
        candidates.addAll(List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"));
        List<Path> dirs = new ArrayList<>();
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) {
            dirs.add(Path.of(cudaHome, "lib64"));
        }
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
        dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        for (Path dir : dirs) {
            candidates.addAll(versionedIn(dir));
        }
        for (String c : candidates) {
            Library l = tryLoad(c);
            if (l != null) {
                return l;
            }
        }
        return null;
    }

    /** Files {@code libcublas.so.N[...]} in {@code dir}, highest major version first. */
    private static List<String> versionedIn(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> VERSIONED.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingInt(CublasGemm::major).reversed())
                    .map(Path::toString)
                    .toList();
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    private static int major(Path p) {
        Matcher m = VERSIONED.matcher(p.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static Library tryLoad(String nameOrPath) {
        SymbolLookup lookup;
        try {
            lookup = nameOrPath.contains("/")
                    ? SymbolLookup.libraryLookup(Path.of(nameOrPath), Arena.global())
                    : SymbolLookup.libraryLookup(nameOrPath, Arena.global());
        } catch (IllegalArgumentException e) {
            return null; // not there, or a dependency (libcublasLt) is missing
        }
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup l = lookup;
            var gemm = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
            var batched = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT,
                    JAVA_LONG, JAVA_INT);
            return new Library(Path.of(nameOrPath).getFileName().toString(),
                    linker.downcallHandle(symbol(l, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    linker.downcallHandle(symbol(l, "cublasSetStream_v2"),
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)),
                    linker.downcallHandle(symbol(l, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS)),
                    linker.downcallHandle(symbol(l, "cublasSgemm_v2"), gemm),
                    linker.downcallHandle(symbol(l, "cublasDgemm_v2"), gemm),
                    linker.downcallHandle(symbol(l, "cublasSgemmStridedBatched"), batched),
                    linker.downcallHandle(symbol(l, "cublasDgemmStridedBatched"), batched));
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    private static MemorySegment symbol(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new UnsatisfiedLinkError("no symbol " + name));
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** A native call that returns a status. */
    @FunctionalInterface
    private interface NativeCall {
        int call() throws Throwable;
    }

    private static int invoke(NativeCall c) {
        try {
            return c.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, status, statusName(status));
        }
    }

    /** {@code cublasStatus_t} names, from {@code cublas_api.h}. */
    private static String statusName(int status) {
        return switch (status) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cublasStatus " + status;
        };
    }
}
