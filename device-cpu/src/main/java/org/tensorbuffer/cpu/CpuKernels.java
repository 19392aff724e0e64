package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.IntConsumer;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;

/**
 * The CPU's {@link Kernels}: Java loops over native memory (through {@link NativeMemory#ALL} at absolute addresses),
 * the Vector API for elementwise ops and reductions, and GEMM through {@link Gemm} (OpenBLAS when present, otherwise
 * a blocked Vector API GEMM; tiny products always in plain Java, where a native call costs more than the work).
 *
 * <p>The transformer ops ({@link #rmsnorm}, {@link #softmax}, {@link #silu}, {@link #rope}, {@link #attention}) follow
 * llama2.c's {@code run.c} (Karpathy, MIT licence) operation by operation; for F32 they compute in {@code float} with
 * the Vector API on native memory (whole-vector loads, FMA, a vector {@code exp} of IEEE operations, {@link VectorExp}), with sums reassociated into
 * vector lanes as {@code run.c} built with {@code -Ofast} does ({@code sqrtf}, {@code powf}, {@code cosf},
 * {@code sinf} and the tails' {@code expf} as the {@link Math} functions in {@code double} cast to {@code float}); the
 * tests compare them with an operation-by-operation float32 emulation of {@code run.c}
 * ({@code device-cpu/scripts/gen_reference.py}) within one ulp (attention within four), and the decode tests check
 * that a model run with them picks {@code run.c}'s tokens. F64 runs the same formulas in {@code double}, in
 * sequential order. Matrix products are not bit-identical to {@code run.c}'s sequential {@code matmul} (BLAS sums in
 * another order).
 *
 * <p>Every method checks that its byte ranges lie inside the buffers ({@link IndexOutOfBoundsException}), that the
 * buffers are CPU buffers ({@link IllegalArgumentException}) and that the dtype is supported
 * ({@link UnsupportedOperationException} naming the op and the type). Work is synchronous. Thread-safe (stateless
 * apart from the GEMM configuration).
 */
public final class CpuKernels implements Kernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;

    /** Attention work ({@code nHeads * (pos + 1) * headSize} multiply-adds) from which heads are split over threads. */
    static final long PARALLEL_ATTENTION_WORK = 1 << 15;
    /** Matrix-vector products with at least this many matrix elements split their rows over the threads. */
    static final long PARALLEL_GEMV_ELEMENTS = 1 << 15;
    /** A split matrix-vector product's row blocks have about this many matrix elements (or more). */
    static final long GEMV_PART_ELEMENTS = 1 << 13;
    /** Fewest groups of four rows per {@code cblas_sgemv} when OpenBLAS has threads (see blasGemvCallRows). */
    static final int MIN_BLAS_GEMV_QUADS = 8;
    /** A split matrix-vector product has at most this many row blocks per thread. */
    static final int PARTS_PER_THREAD = 16;

    private final Gemm gemm;
    private final GemvChoice gemvChoice;
    private final int threads;
    private final long spinMicros;
    private volatile KernelTeam team;

    /**
     * Kernels with the GEMM chosen by the system property {@code tensorbuffer.cpu.gemm} (see {@link Gemm}) and the
     * thread count of the system property {@code tensorbuffer.cpu.threads} (default 1).
     */
    public CpuKernels() {
        this(Gemm.fromSystemProperty());
    }

    /** Kernels with the given GEMM implementation and the thread count of {@code tensorbuffer.cpu.threads}. */
    public CpuKernels(Gemm gemm) {
        this(gemm, threadsFromSystemProperty());
    }

    /**
     * Kernels with the given GEMM implementation and thread count.
     *
     * @param threads threads the kernels' own loops may use (attention splits its heads, float32 matrix-vector
     *                products their rows, over them when the work is large enough); 1 runs everything on the
     *                caller's thread. The GEMM's threads are its own
     *                ({@link Gemm#threads()}).
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public CpuKernels(Gemm gemm, int threads) {
        this.gemm = Objects.requireNonNull(gemm, "gemm");
        this.gemvChoice = GemvChoice.fromSystemProperty();
        if (threads < 1) {
            throw new IllegalArgumentException("CPU kernel threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.spinMicros = KernelTeam.spinMicrosFromSystemProperty();
    }

    /**
     * The thread count of the system property {@code tensorbuffer.cpu.threads}, else of the environment variable
     * {@code TENSORBUFFER_CPU_THREADS} (as {@code OMP_NUM_THREADS} for {@code run.c}): 1 when neither is set.
     *
     * @throws IllegalArgumentException if it is set to something other than a positive integer
     */
    static int threadsFromSystemProperty() {
        String v = System.getProperty("tensorbuffer.cpu.threads");
        String name = "tensorbuffer.cpu.threads";
        if (v == null || v.isBlank()) {
            v = System.getenv("TENSORBUFFER_CPU_THREADS");
            name = "TENSORBUFFER_CPU_THREADS";
        }
        if (v == null || v.isBlank()) {
            return 1;
        }
        try {
            int t = Integer.parseInt(v.trim());
            if (t >= 1) {
                return t;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + ": need a positive integer, got '" + v + "'");
    }

    /** Threads the kernels' own loops may use (see {@link #CpuKernels(Gemm, int)}). */
    public int threads() {
        return threads;
    }

    /**
     * How long the kernels' idle worker threads spin before they park, in microseconds (the system property
     * {@code tensorbuffer.cpu.spinMicros}, default 100; see {@link KernelTeam}).
     */
    public long spinMicros() {
        return spinMicros;
    }

    private KernelTeam team() {
        KernelTeam t = team;
        if (t == null) {
            synchronized (this) {
                t = team;
                if (t == null) {
                    t = new KernelTeam(threads, spinMicros);
                    team = t;
                }
            }
        }
        return t;
    }

    /** The GEMM implementation in use, e.g. {@code OpenBLAS (libopenblas.so.0, SkylakeX core: ...)}. */
    public String gemmDescription() {
        return gemm.description();
    }

    /**
     * Which GEMV runs the float32 matrix-vector products of large matrices when OpenBLAS is loaded (the system
     * property {@code tensorbuffer.cpu.gemv}: {@code auto}, {@code java} or {@code openblas}; see
     * {@link GemvChoice}), e.g. {@code Vector API for matrices from 65536 elements (auto: AMD CPU), OpenBLAS below}.
     */
    public String gemvDescription() {
        if (gemm.gemvBlas() != null) {
            return gemvChoice.description();
        }
        return gemm.javaGemvF32() ? "Vector API" : "OpenBLAS (tensorbuffer.cpu.gemm=openblas)";
    }

    /** The GEMM implementation these kernels use. */
    public Gemm gemmImplementation() {
        return gemm;
    }

    // ---------------------------------------------------------------- GEMM


    /**
     * {@inheritDoc}
     *
     * <p>Dispatch (see {@link Gemm}): {@code m * n * k <= } {@link Gemm#SMALL_WORK} in scalar Java; float32
     * matrix-vector products ({@code n == 1} with A not transposed, or {@code m == 1} with B transposed) in row
     * blocks, each OpenBLAS's {@code cblas_sgemv} when OpenBLAS is loaded (else the Vector API GEMV {@link GemvF32}),
     * split over {@link #threads()} from {@link #PARALLEL_GEMV_ELEMENTS} matrix elements (unless OpenBLAS is forced:
     * then one {@code cblas_sgemv}); otherwise OpenBLAS ({@code cblas_?gemv} when {@code m == 1} or
     * {@code n == 1}, else {@code cblas_?gemm}) or the blocked Vector API GEMM. {@link #gemm} is a batch of one.
     *
     * <p>Runs as a loop of single GEMMs (Debian's OpenBLAS 0.3.21 exports no {@code cblas_?gemm_batch_strided});
     * tiny matrices take the scalar Java path, so a batch of thousands of 2x2 products costs no native call at all.
     * Batch strides must be {@code >= 0}.
     */
    @Override
    public void gemmStridedBatched(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                                   DeviceBuffer a, long aOffset, int lda, long strideA,
                                   DeviceBuffer b, long bOffset, int ldb, long strideB, double beta,
                                   DeviceBuffer c, long cOffset, int ldc, long strideC, int batch) {
        int es = floatType("gemm", dtype);
        if (m < 0 || n < 0 || k < 0 || batch < 0) {
            throw new IllegalArgumentException("gemm: negative size m=" + m + " n=" + n + " k=" + k
                    + " batch=" + batch);
        }
        if (strideA < 0 || strideB < 0 || strideC < 0) {
            throw new IllegalArgumentException("gemm: negative batch stride " + strideA + "/" + strideB + "/"
                    + strideC);
        }
        int aRows = transA ? k : m;
        int aCols = transA ? m : k;
        int bRows = transB ? n : k;
        int bCols = transB ? k : n;
        checkLd("lda", lda, aCols);
        checkLd("ldb", ldb, bCols);
        checkLd("ldc", ldc, n);
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        long aAddr = 0;
        long bAddr = 0;
        if (k > 0) {
            aAddr = matrixAddress(a, aOffset, aRows, aCols, lda, strideA, batch, es, "gemm A");
            bAddr = matrixAddress(b, bOffset, bRows, bCols, ldb, strideB, batch, es, "gemm B");
        }
        long cAddr = matrixAddress(c, cOffset, m, n, ldc, strideC, batch, es, "gemm C");
        if (es == 4 && k > 0 && alpha != 0 && (long) m * n * k > Gemm.SMALL_WORK && gemm.javaGemvF32()) {
            if (n == 1 && !transA) {
                // y = C[:, 0] = A x: contiguous rows of A dotted with x = op(B)[:, 0]
                for (int i = 0; i < batch; i++) {
                    gemvF32(m, k, (float) alpha, aAddr + i * strideA * es, lda, bAddr + i * strideB * es,
                            transB ? 1 : ldb, (float) beta, cAddr + i * strideC * es, ldc);
                }
                return;
            }
            if (m == 1 && transB) {
                // y = C[0, :] = B_stored x: contiguous rows of the stored (n x k) B dotted with x = op(A)[0, :]
                for (int i = 0; i < batch; i++) {
                    gemvF32(n, k, (float) alpha, bAddr + i * strideB * es, ldb, aAddr + i * strideA * es,
                            transA ? lda : 1, (float) beta, cAddr + i * strideC * es, 1);
                }
                return;
            }
        }
        gemm.run(dtype == DType.F64, transA, transB, m, n, k, alpha, aAddr, lda, strideA * es, bAddr, ldb,
                strideB * es, beta, cAddr, ldc, strideC * es, batch);
    }

    /**
     * A float32 matrix-vector product over all {@code rows}, in contiguous row blocks of whole groups of four rows:
     * when the matrix has at least {@link #PARALLEL_GEMV_ELEMENTS} elements and there are several threads, blocks
     * of at least about {@link #GEMV_PART_ELEMENTS} matrix elements (at most {@link #PARTS_PER_THREAD} per thread)
     * that the kernels' threads take one at a time. A block runs as OpenBLAS's {@code cblas_sgemv} when
     * {@link Gemm#gemvBlas()} gives one and {@link GemvChoice} does not take the Vector API for a matrix of this
     * size, in calls of {@link #blasGemvCallRows} rows (when that is 0, and without
     * OpenBLAS, as {@link GemvF32}); when OpenBLAS has threads of its own and exports its single-threaded kernel
     * ({@link OpenBlas#sgemvKernelRows}), as one call of that kernel per block instead (the same bits as
     * {@code cblas_sgemv} on one thread; 1.1-1.3x faster per decode token at two threads than {@link GemvF32} in
     * {@code DecodeTokenTiming}: docs/benchmarks.md, issue 14, "Round 8: 2-thread decode"; the system property
     * {@code tensorbuffer.cpu.sgemvKernel=false} turns it off, for A/B runs). A row's sum does not depend on the
     * block it falls in (checked in {@code ThreadedGemvTest}), so the result has the same bits for every thread
     * count.
     */
    private void gemvF32(int rows, int k, float alpha, long mat, int ld, long x, int incX, float beta, long y,
                         int incY) {
        int quads = (rows + 3) / 4;
        long elements = (long) rows * k;
        OpenBlas blas = gemm.gemvBlas();
        if (blas != null && gemvChoice.java(elements)) {
            blas = null; // a large matrix streams from memory faster through GemvF32 on this CPU (GemvChoice)
        }
        int callRows;
        if (blas != null && blas.threads() != 1 && SGEMV_KERNEL && blas.hasSgemvKernel() && (beta == 0 || beta == 1)) {
            callRows = DIRECT_KERNEL;
        } else {
            callRows = blas == null ? 0 : blasGemvCallRows(blas, k);
        }
        if (callRows == 0) {
            blas = null;
        }
        if (threads > 1 && quads > 1 && elements >= PARALLEL_GEMV_ELEMENTS) {
            int parts = (int) Math.min(quads, Math.min((long) threads * PARTS_PER_THREAD,
                    Math.max(threads, elements / GEMV_PART_ELEMENTS)));
            int np = parts;
            OpenBlas b = blas;
            int cr = callRows;
            parallel(parts, p -> gemvBlock(b, cr, Math.min(rows, 4 * (int) ((long) p * quads / np)),
                    Math.min(rows, 4 * (int) ((long) (p + 1) * quads / np)), k, alpha, mat, ld, x, incX, beta, y,
                    incY));
        } else {
            gemvBlock(blas, callRows, 0, rows, k, alpha, mat, ld, x, incX, beta, y, incY);
        }
    }

    /** {@link #gemvBlock}'s call-rows value for one direct call of OpenBLAS's kernel per block. */
    private static final int DIRECT_KERNEL = -1;
    /**
     * Whether a split GEMV calls OpenBLAS's single-threaded kernel directly when OpenBLAS has threads (the system
     * property {@code tensorbuffer.cpu.sgemvKernel}, default true; false gives the cut {@code cblas_sgemv} calls or
     * {@link GemvF32} of round 7, for A/B runs).
     */
    static final boolean SGEMV_KERNEL = !"false".equals(System.getProperty("tensorbuffer.cpu.sgemvKernel"));

    /**
     * Rows per {@code cblas_sgemv} of a float32 matrix-vector product with rows of {@code k} elements: all
     * ({@link Integer#MAX_VALUE}) when OpenBLAS runs on one thread; when it has threads of its own, whole groups of
     * four rows below {@link OpenBlas#GEMV_SINGLE_THREAD_ELEMENTS} matrix elements, so that it never starts them; 0
     * (take {@link GemvF32}) when that is fewer than {@link #MIN_BLAS_GEMV_QUADS} groups of four (on two threads,
     * the GQA shape's calls of 4-16 rows ran slower than the Vector API split: docs/benchmarks.md, issue 14,
     * "Round 7: the GEMV"). Depends on {@code k} and OpenBLAS's thread count only, not on the kernels' threads.
     */
    static int blasGemvCallRows(OpenBlas blas, int k) {
        if (blas.threads() == 1) {
            return Integer.MAX_VALUE;
        }
        long quads = (OpenBlas.GEMV_SINGLE_THREAD_ELEMENTS - 1) / (4L * k);
        return quads < MIN_BLAS_GEMV_QUADS ? 0 : (int) (4 * quads);
    }

    /**
     * Rows {@code r0 <= i < r1} of {@link #gemvF32}: {@code cblas_sgemv} calls of at most {@code callRows} rows (a
     * multiple of four, unless all rows), or {@link GemvF32} without BLAS.
     */
    private static void gemvBlock(OpenBlas blas, int callRows, int r0, int r1, int k, float alpha, long mat, int ld,
                                  long x, int incX, float beta, long y, int incY) {
        if (blas == null) {
            GemvF32.rows(r0, r1, k, alpha, mat, ld, x, incX, beta, y, incY);
            return;
        }
        if (callRows == DIRECT_KERNEL) {
            blas.sgemvKernelRows(r1 - r0, k, alpha, mat + (long) r0 * ld * 4, ld, x, incX, beta,
                    y + (long) r0 * incY * 4, incY);
            return;
        }
        for (int i = r0, n; i < r1; i += n) {
            n = Math.min(callRows, r1 - i);
            blas.sgemvRows(n, k, alpha, mat + (long) i * ld * 4, ld, x, incX, beta, y + (long) i * incY * 4, incY);
        }
    }

    /**
     * Runs {@code body(0) .. body(parts - 1)}, each once, on the calling thread and the workers of the kernels'
     * {@link KernelTeam} (spinning workers taking parts from a shared counter, no task queue), and returns when all
     * are done (rethrowing the first failure).
     */
    private void parallel(int parts, IntConsumer body) {
        team().run(parts, body);
    }

    private static void checkLd(String name, int ld, int cols) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException("gemm: " + name + "=" + ld + " is less than max(1, " + cols + ")");
        }
    }

    /** Checks the range of {@code batch} row-major matrices and returns the address of the first. */
    private static long matrixAddress(DeviceBuffer buf, long offset, int rows, int cols, int ld, long stride,
                                      int batch, int es, String what) {
        long elems = rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
        if (elems > 0) {
            elems = Math.addExact(elems, Math.multiplyExact((long) (batch - 1), stride));
        }
        CpuDevice.checkRange(buf, offset, Math.multiplyExact(elems, (long) es), what);
        return buf.address() + offset;
    }

    // ---------------------------------------------------------------- elementwise

    /**
     * The names {@link #binary} gives its checks per operator ({@code "binary ADD"}, {@code "binary ADD a"}, ...),
     * made once: concatenating them on every call made four strings of garbage an op (JFR allocation samples of a
     * warm decode, docs/benchmarks.md, issue 14, "Round 6").
     */
    private static final String[][] BINARY_NAMES = Arrays.stream(BinaryOp.values())
            .map(o -> new String[] {"binary " + o, "binary " + o + " a", "binary " + o + " b", "binary " + o + " out"})
            .toArray(String[][]::new);

    @Override
    public void binary(BinaryOp op, DType dtype, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer out, long outOffset, long n) {
        Objects.requireNonNull(op, "op");
        String[] names = BINARY_NAMES[op.ordinal()];
        int es = floatType(names[0], dtype);
        long pa = range(a, aOffset, n, es, names[1]);
        long pb = range(b, bOffset, n, es, names[2]);
        long po = range(out, outOffset, n, es, names[3]);
        if (dtype == DType.F32) {
            VectorLoopsF32.binary(op, pa, pb, po, n);
        } else {
            VectorLoopsF64.binary(op, pa, pb, po, n);
        }
    }

    @Override
    public void scale(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n,
                      double alpha) {
        int es = floatType("scale", dtype);
        long px = range(x, xOffset, n, es, "scale x");
        long po = range(out, outOffset, n, es, "scale out");
        if (dtype == DType.F32) {
            VectorLoopsF32.scale((float) alpha, px, po, n);
        } else {
            VectorLoopsF64.scale(alpha, px, po, n);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>F32 computes as {@code run.c}: {@code x * (1.0f / (1.0f + expf(-x)))}.
     */
    @Override
    public void silu(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n) {
        int es = floatType("silu", dtype);
        long px = range(x, xOffset, n, es, "silu x");
        long po = range(out, outOffset, n, es, "silu out");
        if (dtype == DType.F32) {
            VectorOpsF32.silu(px, po, n);
        } else {
            for (long i = 0; i < n; i++) {
                double v = ALL.get(D, px + i * 8);
                ALL.set(D, po + i * 8, v * (1.0 / (1.0 + Math.exp(-v))));
            }
        }
    }

    // ---------------------------------------------------------------- transformer ops (llama2.c run.c)

    /**
     * {@inheritDoc}
     *
     * <p>F32 as {@code run.c}: {@code ss} summed in {@code float} (lane-parallel, fused multiply-add),
     * {@code ss = 1.0f / sqrtf(ss / cols + eps)}, {@code out[j] = weight[j] * (ss * x[j])}. {@code out} may alias
     * {@code x} exactly.
     */
    @Override
    public void rmsnorm(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer weight, long weightOffset,
                        DeviceBuffer out, long outOffset, int rows, int cols, double eps) {
        int es = floatType("rmsnorm", dtype);
        if (rows < 0 || cols <= 0) {
            throw new IllegalArgumentException("rmsnorm: need rows >= 0 and cols > 0, got rows=" + rows
                    + " cols=" + cols);
        }
        long total = (long) rows * cols;
        long px = range(x, xOffset, total, es, "rmsnorm x");
        long pw = range(weight, weightOffset, cols, es, "rmsnorm weight");
        long po = range(out, outOffset, total, es, "rmsnorm out");
        if (dtype == DType.F32) {
            VectorOpsF32.rmsnorm(px, pw, po, rows, cols, (float) eps);
        } else {
            for (int r = 0; r < rows; r++) {
                long xr = px + (long) r * cols * 8;
                long or = po + (long) r * cols * 8;
                double ss = 0.0;
                for (int j = 0; j < cols; j++) {
                    double v = ALL.get(D, xr + j * 8L);
                    ss += v * v;
                }
                ss = 1.0 / Math.sqrt(ss / cols + eps);
                for (int j = 0; j < cols; j++) {
                    ALL.set(D, or + j * 8L, ALL.get(D, pw + j * 8L) * (ss * ALL.get(D, xr + j * 8L)));
                }
            }
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>F32 as {@code run.c}'s {@code softmax}: maximum, {@code expf(x - max)} ({@link VectorExp}) summed in
     * {@code float} (lane-parallel), then each
     * element divided by the sum. A row with {@code validCols == 0} becomes all zeros.
     *
     * @throws IllegalArgumentException unless {@code 0 <= validCols <= cols} and {@code rows >= 0}
     */
    @Override
    public void softmax(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                        int cols, int validCols) {
        int es = floatType("softmax", dtype);
        if (rows < 0 || cols < 0 || validCols < 0 || validCols > cols) {
            throw new IllegalArgumentException("softmax: need rows >= 0 and 0 <= validCols <= cols, got rows="
                    + rows + " cols=" + cols + " validCols=" + validCols);
        }
        long total = (long) rows * cols;
        long px = range(x, xOffset, total, es, "softmax x");
        long po = range(out, outOffset, total, es, "softmax out");
        for (int r = 0; r < rows; r++) {
            long off = (long) r * cols * es;
            if (dtype == DType.F32) {
                VectorOpsF32.softmax(px + off, po + off, validCols);
                for (int j = validCols; j < cols; j++) {
                    ALL.set(F, po + off + j * 4L, 0.0f);
                }
            } else {
                softmaxF64(px + off, po + off, validCols);
                for (int j = validCols; j < cols; j++) {
                    ALL.set(D, po + off + j * 8L, 0.0);
                }
            }
        }
    }

    private static void softmaxF64(long px, long po, int size) {
        if (size == 0) {
            return;
        }
        double max = ALL.get(D, px);
        for (int i = 1; i < size; i++) {
            double v = ALL.get(D, px + i * 8L);
            if (v > max) {
                max = v;
            }
        }
        double sum = 0.0;
        for (int i = 0; i < size; i++) {
            double e = Math.exp(ALL.get(D, px + i * 8L) - max);
            ALL.set(D, po + i * 8L, e);
            sum += e;
        }
        for (int i = 0; i < size; i++) {
            ALL.set(D, po + i * 8L, ALL.get(D, po + i * 8L) / sum);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>F32 as {@code run.c}: {@code freq = 1.0f / powf(10000.0f, headDim / (float) headSize)},
     * {@code val = pos * freq}, {@code (v0 * cosf(val) - v1 * sinf(val), v0 * sinf(val) + v1 * cosf(val))}.
     *
     * @throws IllegalArgumentException if {@code dim} or {@code headSize} is not positive and even, or
     *                                  {@code pos < 0}
     */
    @Override
    public void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                     int headSize, int pos) {
        int es = floatType("rope", dtype);
        if (dim <= 0 || dim % 2 != 0 || headSize <= 0 || headSize % 2 != 0 || pos < 0) {
            throw new IllegalArgumentException("rope: need positive even dim and headSize and pos >= 0, got dim="
                    + dim + " headSize=" + headSize + " pos=" + pos);
        }
        long px = range(x, xOffset, dim, es, "rope x");
        long po = range(out, outOffset, dim, es, "rope out");
        if (dtype == DType.F32) {
            VectorOpsF32.rope(px, po, dim, headSize, pos);
            return;
        }
        for (int i = 0; i < dim; i += 2) {
            int headDim = i % headSize;
            if (dtype == DType.F32) {
                float freq = 1.0f / (float) Math.pow(10000.0f, headDim / (float) headSize);
                float val = pos * freq;
                float fcr = (float) Math.cos(val);
                float fci = (float) Math.sin(val);
                float v0 = ALL.get(F, px + i * 4L);
                float v1 = ALL.get(F, px + i * 4L + 4);
                ALL.set(F, po + i * 4L, v0 * fcr - v1 * fci);
                ALL.set(F, po + i * 4L + 4, v0 * fci + v1 * fcr);
            } else {
                double freq = 1.0 / Math.pow(10000.0, headDim / (double) headSize);
                double val = pos * freq;
                double fcr = Math.cos(val);
                double fci = Math.sin(val);
                double v0 = ALL.get(D, px + i * 8L);
                double v1 = ALL.get(D, px + i * 8L + 8);
                ALL.set(D, po + i * 8L, v0 * fcr - v1 * fci);
                ALL.set(D, po + i * 8L + 8, v0 * fci + v1 * fcr);
            }
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>F32 as {@code run.c}: scores {@code q . k} summed in {@code float} (lane-parallel, fused multiply-add),
     * divided by
     * {@code sqrtf(headSize)}, {@link #softmax run.c softmax} over {@code pos + 1} scores, then
     * {@code out[i] += att[t] * v[t][i]} for {@code t = 0..pos}.
     *
     * @throws IllegalArgumentException if a size is not positive, {@code nHeads} is not a multiple of
     *                                  {@code nKvHeads}, {@code pos < 0} or {@code attStride < pos + 1}
     */
    @Override
    public void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                          DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                          DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos) {
        int es = floatType("attention", dtype);
        if (nHeads <= 0 || nKvHeads <= 0 || headSize <= 0 || pos < 0 || nHeads % nKvHeads != 0
                || attStride < pos + 1) {
            throw new IllegalArgumentException("attention: need positive sizes, nHeads a multiple of nKvHeads,"
                    + " pos >= 0 and attStride >= pos + 1, got nHeads=" + nHeads + " nKvHeads=" + nKvHeads
                    + " headSize=" + headSize + " pos=" + pos + " attStride=" + attStride);
        }
        long qElems = (long) nHeads * headSize;
        int kvDim = nKvHeads * headSize;
        long cacheElems = (long) (pos + 1) * kvDim;
        long pq = range(q, qOffset, qElems, es, "attention q");
        long pk = range(kCache, kOffset, cacheElems, es, "attention kCache");
        long pv = range(vCache, vOffset, cacheElems, es, "attention vCache");
        long pa = range(att, attOffset, (long) (nHeads - 1) * attStride + pos + 1, es, "attention att");
        long po = range(out, outOffset, qElems, es, "attention out");
        int kvMul = nHeads / nKvHeads;
        if (dtype == DType.F32) {
            if (threads > 1 && nHeads > 1 && (long) nHeads * (pos + 1) * headSize >= PARALLEL_ATTENTION_WORK) {
                // One head per part (or one group of heads scored together, see VectorOpsF32.treeHeads), taken by
                // the kernels' threads; each part writes its own heads' att rows and output.
                int unit = Math.max(1, VectorOpsF32.treeHeads(kvMul, headSize, kvDim));
                parallel(nHeads / unit, p -> VectorOpsF32.attentionHeads(pq, pk, pv, pa, attStride, po, p * unit,
                        (p + 1) * unit, kvMul, headSize, kvDim, pos));
            } else {
                VectorOpsF32.attentionHeads(pq, pk, pv, pa, attStride, po, 0, nHeads, kvMul, headSize, kvDim, pos);
            }
        } else {
            double scale = Math.sqrt(headSize);
            for (int h = 0; h < nHeads; h++) {
                long qh = pq + (long) h * headSize * 8;
                long ah = pa + (long) h * attStride * 8;
                long headOff = (long) (h / kvMul) * headSize * 8;
                for (int t = 0; t <= pos; t++) {
                    long kt = pk + (long) t * kvDim * 8 + headOff;
                    double score = 0.0;
                    for (int i = 0; i < headSize; i++) {
                        score += ALL.get(D, qh + i * 8L) * ALL.get(D, kt + i * 8L);
                    }
                    ALL.set(D, ah + t * 8L, score / scale);
                }
                softmaxF64(ah, ah, pos + 1);
                long oh = po + (long) h * headSize * 8;
                ALL.asSlice(oh, (long) headSize * 8).fill((byte) 0);
                for (int t = 0; t <= pos; t++) {
                    long vt = pv + (long) t * kvDim * 8 + headOff;
                    double a = ALL.get(D, ah + t * 8L);
                    axpyF64(a, vt, oh, headSize);
                }
            }
        }
    }

    private static void axpyF64(double a, long px, long py, int n) {
        int i = 0;
        int bound = n - n % DS.length();
        for (; i < bound; i += DS.length()) {
            DoubleVector vx = DoubleVector.fromMemorySegment(DS, ALL, px + i * 8L, ORDER);
            DoubleVector vy = DoubleVector.fromMemorySegment(DS, ALL, py + i * 8L, ORDER);
            vy.add(vx.mul(a)).intoMemorySegment(ALL, py + i * 8L, ORDER);
        }
        for (; i < n; i++) {
            ALL.set(D, py + i * 8L, ALL.get(D, py + i * 8L) + a * ALL.get(D, px + i * 8L));
        }
    }

    // ---------------------------------------------------------------- batched prefill

    /**
     * {@inheritDoc}
     *
     * <p>F32: one cos/sin table per call and whole-vector rotation of each row ({@link PrefillKernelsF32#ropeRows});
     * the same floats as {@link #rope} row by row. F64: {@link #rope} per row.
     */
    @Override
    public void ropeRows(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                         int dim, int headSize, int startPos) {
        int es = floatType("ropeRows", dtype);
        if (rows < 0 || dim <= 0 || headSize <= 0 || headSize % 2 != 0 || dim % headSize != 0 || startPos < 0) {
            throw new IllegalArgumentException("ropeRows: need rows >= 0, dim a positive multiple of a positive even"
                    + " headSize and startPos >= 0, got rows=" + rows + " dim=" + dim + " headSize=" + headSize
                    + " startPos=" + startPos);
        }
        if (dtype != DType.F32) {
            Kernels.super.ropeRows(dtype, x, xOffset, out, outOffset, rows, dim, headSize, startPos);
            return;
        }
        long total = (long) rows * dim;
        long px = range(x, xOffset, total, es, "ropeRows x");
        long po = range(out, outOffset, total, es, "ropeRows out");
        PrefillKernelsF32.ropeRows(px, po, rows, dim, headSize, startPos);
    }

    /**
     * {@inheritDoc}
     *
     * <p>F32: per head and block of query rows, the scores as one GEMM with the cached keys, a causal softmax per row
     * and the output as one GEMM with the cached values ({@link PrefillKernelsF32}); each head's {@code attStride}
     * floats of {@code att} hold a block of {@code attStride / (startPos + rows)} rows (at least one). Heads are split
     * over {@link #threads()} threads when there are several. F64: {@link #attention} per row.
     *
     * @throws IllegalArgumentException if a size is not positive, {@code nHeads} is not a multiple of
     *                                  {@code nKvHeads}, {@code startPos < 0} or {@code attStride < startPos + rows}
     */
    @Override
    public void causalAttention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                                DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                                DeviceBuffer out, long outOffset, int rows, int nHeads, int nKvHeads, int headSize,
                                int startPos) {
        int es = floatType("causalAttention", dtype);
        if (rows < 0 || nHeads <= 0 || nKvHeads <= 0 || headSize <= 0 || startPos < 0 || nHeads % nKvHeads != 0
                || attStride < startPos + rows) {
            throw new IllegalArgumentException("causalAttention: need rows >= 0, positive sizes, nHeads a multiple of"
                    + " nKvHeads, startPos >= 0 and attStride >= startPos + rows, got rows=" + rows + " nHeads="
                    + nHeads + " nKvHeads=" + nKvHeads + " headSize=" + headSize + " startPos=" + startPos
                    + " attStride=" + attStride);
        }
        if (dtype != DType.F32) {
            Kernels.super.causalAttention(dtype, q, qOffset, kCache, kOffset, vCache, vOffset, att, attOffset,
                    attStride, out, outOffset, rows, nHeads, nKvHeads, headSize, startPos);
            return;
        }
        if (rows == 0) {
            return;
        }
        long qElems = (long) rows * nHeads * headSize;
        long cacheElems = (long) (startPos + rows) * nKvHeads * headSize;
        long pq = range(q, qOffset, qElems, es, "causalAttention q");
        long pk = range(kCache, kOffset, cacheElems, es, "causalAttention kCache");
        long pv = range(vCache, vOffset, cacheElems, es, "causalAttention vCache");
        long pa = range(att, attOffset, (long) nHeads * attStride, es, "causalAttention att");
        long po = range(out, outOffset, qElems, es, "causalAttention out");
        if (threads > 1 && nHeads > 1) {
            // One head per part, taken by the kernels' threads.
            parallel(nHeads, h -> PrefillKernelsF32.causalAttentionHeads(gemm, pq, pk, pv, pa, attStride, po, rows,
                    nHeads, nKvHeads, headSize, startPos, h, h + 1));
        } else {
            PrefillKernelsF32.causalAttentionHeads(gemm, pq, pk, pv, pa, attStride, po, rows, nHeads, nKvHeads,
                    headSize, startPos, 0, nHeads);
        }
    }

    // ---------------------------------------------------------------- reductions

    /**
     * {@inheritDoc}
     *
     * <p>NaNs are skipped; if all {@code n} elements are NaN the result is 0.
     *
     * @throws IllegalArgumentException if {@code n <= 0}
     */
    @Override
    public long argmax(DType dtype, DeviceBuffer x, long xOffset, long n) {
        int es = floatType("argmax", dtype);
        if (n <= 0) {
            throw new IllegalArgumentException("argmax of " + n + " elements: need at least one");
        }
        long px = range(x, xOffset, n, es, "argmax x");
        long best = -1;
        if (dtype == DType.F32) {
            float bv = 0;
            for (long i = 0; i < n; i++) {
                float v = ALL.get(F, px + i * 4);
                if (best < 0 ? v == v : v > bv) {
                    best = i;
                    bv = v;
                }
            }
        } else {
            double bv = 0;
            for (long i = 0; i < n; i++) {
                double v = ALL.get(D, px + i * 8);
                if (best < 0 ? v == v : v > bv) {
                    best = i;
                    bv = v;
                }
            }
        }
        return best < 0 ? 0 : best;
    }

    @Override
    public void reduceSum(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset,
                          long outer, long inner) {
        int es = floatType("reduceSum", dtype);
        if (outer < 0 || inner < 0) {
            throw new IllegalArgumentException("reduceSum: negative size outer=" + outer + " inner=" + inner);
        }
        long ps = range(src, srcOffset, Math.multiplyExact(outer, inner), es, "reduceSum src");
        long pd = range(dst, dstOffset, outer, es, "reduceSum dst");
        for (long o = 0; o < outer; o++) {
            long row = ps + o * inner * es;
            if (dtype == DType.F32) {
                ALL.set(F, pd + o * 4, VectorLoopsF32.sum(row, inner));
            } else {
                ALL.set(D, pd + o * 8, VectorLoopsF64.sum(row, inner));
            }
        }
    }

    // ---------------------------------------------------------------- strided copy

    /**
     * {@inheritDoc}
     *
     * <p>Axes of size 1 are dropped and adjacent axes that are contiguous with each other are merged first; then a
     * fully contiguous source is one {@code memcpy}, long rows (at least {@code BlockedPermute.DST_BLOCK} elements)
     * with stride 1 are one copy per row, long rows with stride 0 (broadcast) a fill per row, and anything else (a
     * transpose, short rows) a cache-blocked tiled copy ({@code BlockedPermute}, after HPTT). Negative strides are
     * allowed.
     *
     * @throws IllegalArgumentException if {@code shape} and {@code srcStrides} differ in length or a dimension is
     *                                  negative
     */
    @Override
    public void stridedCopy(DType dtype, DeviceBuffer src, long srcOffset, long[] shape, long[] srcStrides,
                            DeviceBuffer dst, long dstOffset) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(srcStrides, "srcStrides");
        if (shape.length != srcStrides.length) {
            throw new IllegalArgumentException("stridedCopy: shape has " + shape.length + " axes but srcStrides "
                    + srcStrides.length);
        }
        int es = dtype.byteSize();
        long count = 1;
        long minOff = 0;
        long maxOff = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 0) {
                throw new IllegalArgumentException("stridedCopy: negative dimension " + shape[d] + " in "
                        + java.util.Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, shape[d]);
        }
        if (count == 0) {
            CpuDevice.checkRange(dst, dstOffset, 0, "stridedCopy dst");
            return;
        }
        for (int d = 0; d < shape.length; d++) {
            long span = Math.multiplyExact(shape[d] - 1, srcStrides[d]);
            if (span > 0) {
                maxOff = Math.addExact(maxOff, span);
            } else {
                minOff = Math.addExact(minOff, span);
            }
        }
        long srcLo = Math.addExact(srcOffset, Math.multiplyExact(minOff, (long) es));
        CpuDevice.checkRange(src, srcLo, Math.multiplyExact(maxOff - minOff + 1, (long) es), "stridedCopy src");
        long pd = range(dst, dstOffset, count, es, "stridedCopy dst");
        long ps = src.address() + srcOffset;

        // Coalesce: drop size-1 axes, merge an axis into the next inner one when they are contiguous.
        long[] dims = new long[shape.length];
        long[] strides = new long[shape.length];
        int rank = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 1) {
                continue;
            }
            if (rank > 0 && srcStrides[d] == strides[rank - 1] * dims[rank - 1]) {
                dims[rank - 1] *= shape[d];
            } else {
                dims[rank] = shape[d];
                strides[rank] = srcStrides[d];
                rank++;
            }
        }
        // dims/strides are innermost first now.
        if (rank == 0) {
            MemorySegment.copy(ALL, ps, ALL, pd, es);
            return;
        }
        long inner = dims[0];
        long innerStride = strides[0];
        long rowBytes = inner * es;
        if (rank == 1 && innerStride == 1) {
            MemorySegment.copy(ALL, ps, ALL, pd, rowBytes);
            return;
        }
        if (rank >= 2 && (es == 2 || es == 4 || es == 8) && !((innerStride == 1 || innerStride == 0)
                && inner >= BlockedPermute.DST_BLOCK)) {
            // A transpose or short rows: cache-blocked tiles (HPTT-style) instead of one strided row at a time.
            BlockedPermute.copy(ps, pd, dims, strides, rank, es);
            return;
        }
        long[] idx = new long[rank];
        long srcPos = 0; // element offset of the current row's first element
        long rows = count / inner;
        for (long r = 0; r < rows; r++) {
            long s = ps + srcPos * es;
            long d = pd + r * rowBytes;
            if (innerStride == 1) {
                MemorySegment.copy(ALL, s, ALL, d, rowBytes);
            } else if (innerStride == 0) {
                CpuDevice.fillPattern(d, inner, es, readElement(s, es));
            } else {
                copyStrided(s, innerStride * es, d, inner, es);
            }
            // Odometer over the outer axes 1..rank-1.
            for (int ax = 1; ax < rank; ax++) {
                srcPos += strides[ax];
                if (++idx[ax] < dims[ax]) {
                    break;
                }
                srcPos -= strides[ax] * dims[ax];
                idx[ax] = 0;
            }
        }
    }

    private static long readElement(long address, int es) {
        return switch (es) {
            case 2 -> ALL.get(ValueLayout.JAVA_SHORT_UNALIGNED, address);
            case 4 -> ALL.get(ValueLayout.JAVA_INT_UNALIGNED, address);
            default -> ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address);
        };
    }

    private static void copyStrided(long s, long strideBytes, long d, long n, int es) {
        switch (es) {
            case 2 -> {
                for (long i = 0; i < n; i++) {
                    ALL.set(ValueLayout.JAVA_SHORT_UNALIGNED, d + i * 2,
                            ALL.get(ValueLayout.JAVA_SHORT_UNALIGNED, s + i * strideBytes));
                }
            }
            case 4 -> {
                for (long i = 0; i < n; i++) {
                    ALL.set(ValueLayout.JAVA_INT_UNALIGNED, d + i * 4,
                            ALL.get(ValueLayout.JAVA_INT_UNALIGNED, s + i * strideBytes));
                }
            }
            default -> {
                for (long i = 0; i < n; i++) {
                    ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, d + i * 8,
                            ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, s + i * strideBytes));
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** The element size of {@code dtype} if it is F32 or F64. */
    private static int floatType(String op, DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new UnsupportedOperationException(op + " is not supported for dtype " + dtype
                    + " on the CPU (float32 and float64 only)");
        }
        return dtype.byteSize();
    }

    /** Checks {@code n} elements of {@code es} bytes at {@code offset} and returns their address. */
    private static long range(DeviceBuffer buf, long offset, long n, int es, String what) {
        if (n < 0) {
            throw new IllegalArgumentException(what + ": negative element count " + n);
        }
        CpuDevice.checkRange(buf, offset, Math.multiplyExact(n, (long) es), what);
        return buf.address() + offset;
    }
}
