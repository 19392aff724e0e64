package org.tensorbuffer.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;

/**
 * The FFM bindings of cuBLAS ({@link CublasGemm}) and of the driver's memory-pool functions ({@link DriverLibrary})
 * against a stub library built here with gcc ({@code src/test/cuda/stub_cuda.c}) that logs every call with its
 * arguments and computes the GEMMs with cuBLAS's column-major semantics (issue 19, item 3): the signatures bind, the
 * arguments arrive in the order and with the values {@code cublas_api.h}/{@code cuda.h} define, the row-major
 * operand swap gives the right matrices, and error codes become {@link CudaException}s. Skipped where gcc is absent.
 */
class FfmBindingStubTest {
    private static Path stub;
    private static MethodHandle log;
    private static MethodHandle reset;

    @BeforeAll
    static void build() throws Exception {
        Path gcc = CudaToolkit.require("gcc");
        Path dir = CudaToolkit.scratch("ffm-stub");
        stub = dir.resolve("libstub_cuda.so");
        CudaToolkit.Result r = CudaToolkit.run(CudaToolkit.moduleDir(), List.of(gcc.toString(), "-O1", "-shared",
                "-fPIC", "-Wall", "-o", stub.toString(), "src/test/cuda/stub_cuda.c"), List.of(), 120);
        assertThat(r.status()).as("gcc:\n%s", r.output()).isZero();
        SymbolLookup l = SymbolLookup.libraryLookup(stub, Arena.global());
        log = Linker.nativeLinker().downcallHandle(l.find("stub_log").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        reset = Linker.nativeLinker().downcallHandle(l.find("stub_reset").orElseThrow(), FunctionDescriptor.ofVoid());
    }

    @BeforeEach
    void clear() throws Throwable {
        reset.invokeExact();
    }

    private static List<String> calls() throws Throwable {
        MemorySegment s = (MemorySegment) log.invokeExact();
        return s.reinterpret(1 << 16).getString(0).lines().toList();
    }

    private static String hex(MemorySegment s) {
        return "0x" + Long.toHexString(s.address());
    }

    @Test
    void cublasGemmSwapsOperandsForRowMajorAndPassesEveryArgumentInOrder() throws Throwable {
        int m = 3;
        int n = 5;
        int k = 7;
        Random rnd = new Random(7);
        try (Arena arena = Arena.ofConfined(); CublasGemm g = CublasGemm.open(stub, 0x5eedL)) {
            // row-major A (m x k, row stride 9), B^T stored as n x k (transB, row stride 8), C (m x n, row stride
            // 6): C = 0.5 A B + 0.25 C. Distinct leading dimensions, so a swapped one cannot go unnoticed.
            int lda = 9;
            int ldb = 8;
            int ldc = 6;
            MemorySegment a = arena.allocate(4L * m * lda, 8);
            MemorySegment b = arena.allocate(4L * n * ldb, 8);
            MemorySegment c = arena.allocate(4L * m * ldc, 8);
            float[] av = new float[m * lda];
            float[] bv = new float[n * ldb];
            float[] cv = new float[m * ldc];
            for (int i = 0; i < av.length; i++) {
                av[i] = rnd.nextFloat() - 0.5f;
            }
            for (int i = 0; i < bv.length; i++) {
                bv[i] = rnd.nextFloat() - 0.5f;
            }
            for (int i = 0; i < cv.length; i++) {
                cv[i] = rnd.nextFloat() - 0.5f;
            }
            a.copyFrom(MemorySegment.ofArray(av));
            b.copyFrom(MemorySegment.ofArray(bv));
            c.copyFrom(MemorySegment.ofArray(cv));
            g.gemm(DType.F32, false, true, m, n, k, 0.5, a.address(), lda, 0, b.address(), ldb, 0, 0.25, c.address(),
                    ldc, 0, 1);
            assertThat(calls()).containsExactly("cublasCreate_v2", "cublasSetStream_v2 handle_ok=1 stream=0x5eed",
                    "cublasSgemm_v2 handle_ok=1 transa=1 transb=0 m=5 n=3 k=7 alpha=0.5 A=" + hex(b) + " lda=8 B="
                            + hex(a) + " ldb=9 beta=0.25 C=" + hex(c) + " ldc=6");
            float[] got = c.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < ldc; j++) {
                    double ref = 0.25 * cv[i * ldc + j];
                    if (j >= n) {
                        ref = cv[i * ldc + j]; // padding columns untouched
                    } else {
                        for (int p = 0; p < k; p++) {
                            ref += 0.5 * av[i * lda + p] * bv[j * ldb + p];
                        }
                    }
                    assertThat((double) got[i * ldc + j]).as("C[%d][%d]", i, j).isCloseTo(ref,
                            org.assertj.core.data.Offset.offset(1e-5));
                }
            }
        }
        assertThat(calls()).last().isEqualTo("cublasDestroy_v2 handle_ok=1");
    }

    @Test
    void cublasStridedBatchedF64PassesStridesAndBatch() throws Throwable {
        int m = 4;
        int n = 2;
        int k = 3;
        int batch = 3;
        try (Arena arena = Arena.ofConfined(); CublasGemm g = CublasGemm.open(stub, 0)) {
            // op(A) = A^T with A stored k x m; op(B) = B stored k x n; strides of whole matrices
            MemorySegment a = arena.allocate(8L * batch * k * m, 8);
            MemorySegment b = arena.allocate(8L * batch * k * n, 8);
            MemorySegment c = arena.allocate(8L * batch * m * n, 8);
            double[] av = new double[batch * k * m];
            double[] bv = new double[batch * k * n];
            for (int i = 0; i < av.length; i++) {
                av[i] = i % 5 - 2;
            }
            for (int i = 0; i < bv.length; i++) {
                bv[i] = i % 3 + 1;
            }
            a.copyFrom(MemorySegment.ofArray(av));
            b.copyFrom(MemorySegment.ofArray(bv));
            g.gemm(DType.F64, true, false, m, n, k, 1, a.address(), m, (long) k * m, b.address(), n, (long) k * n, 0,
                    c.address(), n, (long) m * n, batch);
            assertThat(calls().get(2)).isEqualTo("cublasDgemmStridedBatched handle_ok=1 transa=0 transb=1 m=2 n=4 "
                    + "k=3 alpha=1 A=" + hex(b) + " lda=2 strideA=6 B="
                    + hex(a) + " ldb=4 strideB=12 beta=0 C=" + hex(c) + " ldc=2 strideC=8 batch=3");
            double[] got = c.toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE);
            for (int z = 0; z < batch; z++) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double ref = 0;
                        for (int p = 0; p < k; p++) {
                            ref += av[z * k * m + p * m + i] * bv[z * k * n + p * n + j];
                        }
                        assertThat(got[z * m * n + i * n + j]).as("C[%d][%d][%d]", z, i, j).isEqualTo(ref);
                    }
                }
            }
        }
    }

    @Test
    void cublasErrorStatusBecomesCudaException() {
        try (CublasGemm g = CublasGemm.open(stub, 0)) {
            // ldc < n in row-major is ldc < m in cuBLAS's view: the stub answers CUBLAS_STATUS_INVALID_VALUE
            assertThatThrownBy(() -> g.gemm(DType.F32, false, false, 2, 3, 1, 1, 0x100, 1, 0, 0x200, 3, 0, 0, 0x300,
                    2, 0, 1)).isInstanceOf(CudaException.class)
                    .hasMessageContaining("cublasSgemm_v2").hasMessageContaining("CUBLAS_STATUS_INVALID_VALUE");
        }
    }

    @Test
    void memPoolBindingsPassHandlesAttributesAndValues() throws Throwable {
        DriverLibrary d = DriverLibrary.bind(stub, Arena.global());
        long pool = d.defaultMemPool(3);
        assertThat(pool).isEqualTo(0xABCD03L);
        d.setPoolAttribute(pool, DriverLibrary.ATTR_RELEASE_THRESHOLD, -1);
        assertThat(d.poolAttribute(pool, DriverLibrary.ATTR_RESERVED_MEM_HIGH)).isEqualTo(6007);
        d.trimPool(pool, 4096);
        assertThat(calls()).containsExactly("cuDeviceGetDefaultMemPool dev=3",
                "cuMemPoolSetAttribute pool=0xabcd03 attr=4 value=18446744073709551615",
                "cuMemPoolGetAttribute pool=0xabcd03 attr=6", "cuMemPoolTrimTo pool=0xabcd03 keep=4096");
        assertThatThrownBy(() -> d.defaultMemPool(-1)).isInstanceOf(CudaException.class)
                .hasMessageContaining("cuDeviceGetDefaultMemPool(-1)").hasMessageContaining("(101)");
        assertThatThrownBy(() -> d.trimPool(0, 0)).isInstanceOf(CudaException.class)
                .hasMessageContaining("cuMemPoolTrimTo");
    }

    @Test
    void poolSetupThroughTheBoundDriverSetsTheReleaseThreshold() throws Throwable {
        DriverLibrary d = DriverLibrary.bind(stub, Arena.global());
        long pool = new PoolSetup(AllocMode.ASYNC, 64L << 20).apply(d, 1);
        assertThat(pool).isEqualTo(0xABCD01L);
        assertThat(calls()).containsExactly("cuDeviceGetDefaultMemPool dev=1",
                "cuMemPoolSetAttribute pool=0xabcd01 attr=4 value=67108864");
    }
}
