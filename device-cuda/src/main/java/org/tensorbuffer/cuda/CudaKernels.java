package org.tensorbuffer.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;

/**
 * The {@link Kernels} of a {@link CudaDevice}: the PTX kernels of {@code kernels.cu} for everything but GEMM, and
 * cuBLAS (bound through FFM) or the tiled PTX kernel for GEMM. All launches go to the device's stream, so they are
 * ordered with its copies; only {@link #argmax} waits (it returns to the host).
 *
 * <p>Launch shapes: elementwise kernels use blocks of {@value #THREADS} threads and grid-stride loops over at most
 * {@value #MAX_BLOCKS} blocks; row ops (RMSNorm, softmax, long row sums) one block per row; attention one block per
 * head; argmax a two-pass reduction over at most {@value #ARGMAX_PARTS} partial results.
 *
 * <p>Thread-safe. Types: {@link DType#F32} and {@link DType#F64} for arithmetic; {@link #stridedCopy} moves any type.
 */
final class CudaKernels implements Kernels, AutoCloseable {
    static final int THREADS = 256;
    static final int MAX_BLOCKS = 65535;
    static final int ARGMAX_PARTS = 1024;
    /** Rank up to which {@link #stridedCopy} runs in one launch (after merging contiguous axes). */
    static final int MAX_RANK = 8;
    /** Longest row reduced by one thread in {@link #reduceSum}; longer rows get a block each. */
    private static final long SHORT_ROW = 64;

    private final KernelTarget device;
    private final PtxModule module;
    private final GemmEngine gemm;
    /** Argmax scratch: ARGMAX_PARTS values (8 bytes each), ARGMAX_PARTS indices, one result; guarded by this. */
    private final long argmaxScratch;
    private final long argmaxValues;
    private final long argmaxIndices;
    private final long argmaxResult;
    private final MemorySegment argmaxHost = MemorySegment.ofArray(new long[1]);

    /**
     * On a GPU: loads the module through JCuda and picks the GEMM engine (cuBLAS if a library is found, else the
     * tiled kernel); the device's context must be current.
     */
    static CudaKernels open(KernelTarget device) {
        PtxModule module = new PtxModule(JCudaModuleDriver.INSTANCE);
        try {
            GemmEngine g = CublasGemm.open(device.stream());
            return new CudaKernels(device, module, g != null ? g : new TiledGemm(module, device.stream()));
        } catch (RuntimeException | Error e) {
            module.close();
            throw e;
        }
    }

    /** Kernels on {@code device} with a loaded module and a GEMM engine (both then owned by this object). */
    CudaKernels(KernelTarget device, PtxModule module, GemmEngine gemm) {
        this.device = device;
        this.module = module;
        this.gemm = gemm;
        argmaxScratch = device.allocateScratch(16L * ARGMAX_PARTS + 8);
        argmaxValues = argmaxScratch;
        argmaxIndices = argmaxValues + 8L * ARGMAX_PARTS;
        argmaxResult = argmaxIndices + 8L * ARGMAX_PARTS;
    }

    /** Which GEMM is in use, e.g. {@code cuBLAS (libcublas.so.13)} or {@code tiled PTX kernel}. */
    String gemmDescription() {
        return gemm.description();
    }

    // --- GEMM ------------------------------------------------------------------------------------------------------


    @Override
    public void gemmStridedBatched(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                                   DeviceBuffer a, long aOffset, int lda, long strideA,
                                   DeviceBuffer b, long bOffset, int ldb, long strideB, double beta,
                                   DeviceBuffer c, long cOffset, int ldc, long strideC, int batch) {
        requireFloat("gemm", dtype);
        if (m < 0 || n < 0 || k < 0 || batch < 0) {
            throw new IllegalArgumentException("gemm: negative size m=" + m + " n=" + n + " k=" + k
                    + " batch=" + batch);
        }
        int es = dtype.byteSize();
        long pa = matrix("gemm A", a, aOffset, transA ? k : m, transA ? m : k, lda, strideA, batch, es);
        long pb = matrix("gemm B", b, bOffset, transB ? n : k, transB ? k : n, ldb, strideB, batch, es);
        long pc = matrix("gemm C", c, cOffset, m, n, ldc, strideC, batch, es);
        if (m == 0 || n == 0 || batch == 0) {
            return;
        }
        device.bind();
        gemm.gemm(dtype, transA, transB, m, n, k, alpha, pa, lda, strideA, pb, ldb, strideB, beta, pc, ldc, strideC,
                batch);
    }

    /** Checks a row-major {@code rows x cols} matrix with row stride {@code ld}, repeated {@code batch} times. */
    private long matrix(String what, DeviceBuffer buf, long offset, int rows, int cols, int ld, long stride,
                        int batch, int es) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(what + ": leading dimension " + ld + " < " + cols + " columns");
        }
        if (stride < 0) {
            throw new IllegalArgumentException(what + ": negative batch stride " + stride);
        }
        long extent = rows == 0 || cols == 0 || batch == 0 ? 0
                : (batch - 1) * stride + (long) (rows - 1) * ld + cols;
        return device.address(buf, offset, extent * es, what);
    }

    // --- elementwise -----------------------------------------------------------------------------------------------

    @Override
    public void binary(BinaryOp op, DType dtype, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer out, long outOffset, long n) {
        requireFloat("binary " + op, dtype);
        long bytes = bytes(n, dtype);
        long pa = device.address(a, aOffset, bytes, "binary a");
        long pb = device.address(b, bOffset, bytes, "binary b");
        long po = device.address(out, outOffset, bytes, "binary out");
        if (n == 0) {
            return;
        }
        launch1d("binary", dtype, n, new KernelArgs().i32(op.ordinal()).ptr(pa).ptr(pb).ptr(po).i64(n));
    }

    @Override
    public void scale(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n,
                      double alpha) {
        requireFloat("scale", dtype);
        long bytes = bytes(n, dtype);
        long px = device.address(x, xOffset, bytes, "scale x");
        long po = device.address(out, outOffset, bytes, "scale out");
        if (n == 0) {
            return;
        }
        launch1d("scale", dtype, n, new KernelArgs().ptr(px).ptr(po).i64(n).real(dtype, alpha));
    }

    @Override
    public void silu(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n) {
        requireFloat("silu", dtype);
        long bytes = bytes(n, dtype);
        long px = device.address(x, xOffset, bytes, "silu x");
        long po = device.address(out, outOffset, bytes, "silu out");
        if (n == 0) {
            return;
        }
        launch1d("silu", dtype, n, new KernelArgs().ptr(px).ptr(po).i64(n));
    }

    // --- row ops ---------------------------------------------------------------------------------------------------

    @Override
    public void rmsnorm(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer weight, long weightOffset,
                        DeviceBuffer out, long outOffset, int rows, int cols, double eps) {
        requireFloat("rmsnorm", dtype);
        nonNegative("rmsnorm", rows, cols);
        long bytes = bytes((long) rows * cols, dtype);
        long px = device.address(x, xOffset, bytes, "rmsnorm x");
        long pw = device.address(weight, weightOffset, bytes(cols, dtype), "rmsnorm weight");
        long po = device.address(out, outOffset, bytes, "rmsnorm out");
        if (rows == 0 || cols == 0) {
            return;
        }
        device.bind();
        module.launch(name("rmsnorm", dtype), Math.min(rows, MAX_BLOCKS), THREADS, device.stream(),
                new KernelArgs().ptr(px).ptr(pw).ptr(po).i32(rows).i32(cols).real(dtype, eps));
    }

    @Override
    public void softmax(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                        int cols, int validCols) {
        requireFloat("softmax", dtype);
        nonNegative("softmax", rows, cols);
        if (validCols < 0 || validCols > cols) {
            throw new IllegalArgumentException("softmax: validCols " + validCols + " outside [0, " + cols + "]");
        }
        long bytes = bytes((long) rows * cols, dtype);
        long px = device.address(x, xOffset, bytes, "softmax x");
        long po = device.address(out, outOffset, bytes, "softmax out");
        if (rows == 0 || cols == 0) {
            return;
        }
        device.bind();
        module.launch(name("softmax", dtype), Math.min(rows, MAX_BLOCKS), THREADS, device.stream(),
                new KernelArgs().ptr(px).ptr(po).i32(rows).i32(cols).i32(validCols));
    }

    @Override
    public void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                     int headSize, int pos) {
        requireFloat("rope", dtype);
        if (dim < 0 || dim % 2 != 0 || headSize <= 0 || headSize % 2 != 0 || pos < 0) {
            throw new IllegalArgumentException("rope: need even dim >= 0, even headSize > 0, pos >= 0; got dim="
                    + dim + " headSize=" + headSize + " pos=" + pos);
        }
        long bytes = bytes(dim, dtype);
        long px = device.address(x, xOffset, bytes, "rope x");
        long po = device.address(out, outOffset, bytes, "rope out");
        if (dim == 0) {
            return;
        }
        launch1d("rope", dtype, dim / 2, new KernelArgs().ptr(px).ptr(po).i32(dim).i32(headSize).i32(pos));
    }

    @Override
    public void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                          DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                          DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos) {
        requireFloat("attention", dtype);
        if (nHeads <= 0 || nKvHeads <= 0 || nHeads % nKvHeads != 0 || headSize <= 0 || pos < 0
                || attStride < pos + 1) {
            throw new IllegalArgumentException("attention: need nHeads a positive multiple of nKvHeads, headSize > 0,"
                    + " pos >= 0, attStride > pos; got nHeads=" + nHeads + " nKvHeads=" + nKvHeads + " headSize="
                    + headSize + " pos=" + pos + " attStride=" + attStride);
        }
        long qBytes = bytes((long) nHeads * headSize, dtype);
        long kvBytes = bytes((long) (pos + 1) * nKvHeads * headSize, dtype);
        long pq = device.address(q, qOffset, qBytes, "attention q");
        long pk = device.address(kCache, kOffset, kvBytes, "attention kCache");
        long pv = device.address(vCache, vOffset, kvBytes, "attention vCache");
        long pa = device.address(att, attOffset, bytes((long) (nHeads - 1) * attStride + pos + 1, dtype),
                "attention att");
        long po = device.address(out, outOffset, qBytes, "attention out");
        device.bind();
        module.launch(name("attention", dtype), Math.min(nHeads, MAX_BLOCKS), THREADS, device.stream(),
                new KernelArgs().ptr(pq).ptr(pk).ptr(pv).ptr(pa).i32(attStride).ptr(po).i32(nHeads).i32(nKvHeads)
                        .i32(headSize).i32(pos));
    }

    @Override
    public synchronized long argmax(DType dtype, DeviceBuffer x, long xOffset, long n) {
        requireFloat("argmax", dtype);
        if (n <= 0) {
            throw new IllegalArgumentException("argmax of " + n + " elements");
        }
        long px = device.address(x, xOffset, bytes(n, dtype), "argmax x");
        device.bind();
        int parts = (int) Math.min(ARGMAX_PARTS, (n + THREADS - 1) / THREADS);
        module.launch(name("argmax_partial", dtype), parts, THREADS, device.stream(),
                new KernelArgs().ptr(px).i64(n).ptr(argmaxValues).ptr(argmaxIndices));
        module.launch(name("argmax_final", dtype), 1, THREADS, device.stream(),
                new KernelArgs().ptr(argmaxValues).ptr(argmaxIndices).i32(parts).ptr(argmaxResult));
        device.toHost(argmaxResult, argmaxHost, 8);
        return argmaxHost.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    // --- data movement ---------------------------------------------------------------------------------------------

    @Override
    public void stridedCopy(DType dtype, DeviceBuffer src, long srcOffset, long[] shape, long[] srcStrides,
                            DeviceBuffer dst, long dstOffset) {
        if (shape.length != srcStrides.length) {
            throw new IllegalArgumentException("stridedCopy: shape has " + shape.length + " axes, strides "
                    + srcStrides.length);
        }
        long total = 1;
        long maxOffset = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 0) {
                throw new IllegalArgumentException("stridedCopy: negative extent " + shape[d] + " on axis " + d);
            }
            if (srcStrides[d] < 0) {
                throw new IllegalArgumentException("stridedCopy: negative stride " + srcStrides[d] + " on axis " + d);
            }
            total = Math.multiplyExact(total, shape[d]);
            maxOffset += (shape[d] - 1) * srcStrides[d];
        }
        int es = dtype.byteSize();
        long ps = device.address(src, srcOffset, total == 0 ? 0 : (maxOffset + 1) * es, "stridedCopy src");
        long pd = device.address(dst, dstOffset, total * es, "stridedCopy dst");
        if (total == 0) {
            return;
        }
        List<long[]> axes = mergeAxes(shape, srcStrides);
        if (axes.size() > MAX_RANK) {
            throw new UnsupportedOperationException("stridedCopy: rank " + axes.size()
                    + " after merging contiguous axes exceeds " + MAX_RANK + " on CUDA");
        }
        long[] s = new long[axes.size()];
        long[] st = new long[axes.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = axes.get(i)[0];
            st[i] = axes.get(i)[1];
        }
        // 32-bit index arithmetic when every element index and source offset fits (unsigned int in the kernel)
        boolean small = total <= Integer.MAX_VALUE && maxOffset <= Integer.MAX_VALUE;
        String kernel = small ? "strided_copy32_b" : "strided_copy_b";
        device.bind();
        module.launch(kernel + es, blocks(total), THREADS, device.stream(),
                new KernelArgs().ptr(ps).ptr(pd).i64(total).i32(s.length).dims8(s).dims8(st));
    }

    /**
     * Drops extent-1 axes and merges axis {@code d} into {@code d+1} where {@code stride[d] == stride[d+1] *
     * extent[d+1]} (the pair is then one contiguous run); returns {extent, stride} pairs, outermost first.
     */
    static List<long[]> mergeAxes(long[] shape, long[] strides) {
        List<long[]> axes = new ArrayList<>();
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) {
                continue;
            }
            if (!axes.isEmpty()) {
                long[] last = axes.getLast();
                if (last[1] == strides[d] * shape[d]) {
                    last[0] *= shape[d];
                    last[1] = strides[d];
                    continue;
                }
            }
            axes.add(new long[] {shape[d], strides[d]});
        }
        return axes;
    }

    @Override
    public void reduceSum(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long outer,
                          long inner) {
        requireFloat("reduceSum", dtype);
        if (outer < 0 || inner < 0) {
            throw new IllegalArgumentException("reduceSum: negative size outer=" + outer + " inner=" + inner);
        }
        long ps = device.address(src, srcOffset, bytes(Math.multiplyExact(outer, inner), dtype), "reduceSum src");
        long pd = device.address(dst, dstOffset, bytes(outer, dtype), "reduceSum dst");
        if (outer == 0) {
            return;
        }
        if (inner == 0) {
            device.bind();
            fillBits(pd, outer, dtype.byteSize(), 0); // empty sums are +0.0 (all bits zero in F32 and F64)
            return;
        }
        device.bind();
        KernelArgs args = new KernelArgs().ptr(ps).ptr(pd).i64(outer).i64(inner);
        if (inner <= SHORT_ROW) {
            module.launch(name("reduce_sum_rows", dtype), blocks(outer), THREADS, device.stream(), args);
        } else {
            module.launch(name("reduce_sum_block", dtype), (int) Math.min(outer, MAX_BLOCKS), THREADS,
                    device.stream(), args);
        }
    }

    /** Sets {@code count} elements of {@code elementBytes} bytes at {@code address} to {@code bits}. */
    void fillBits(long address, long count, int elementBytes, long bits) {
        module.launch("fill_b" + elementBytes, blocks(count), THREADS, device.stream(),
                new KernelArgs().ptr(address).i64(count).bits(elementBytes, bits));
    }

    @Override
    public void close() {
        gemm.close();
        device.freeScratch(argmaxScratch);
        module.close();
    }

    // ---------------------------------------------------------------------------------------------------------------

    private void launch1d(String op, DType dtype, long n, KernelArgs args) {
        device.bind();
        module.launch(name(op, dtype), blocks(n), THREADS, device.stream(), args);
    }

    private static int blocks(long n) {
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (n + THREADS - 1) / THREADS));
    }

    private static String name(String op, DType dtype) {
        return op + (dtype == DType.F32 ? "_f32" : "_f64");
    }

    private static long bytes(long n, DType dtype) {
        if (n < 0) {
            throw new IllegalArgumentException("negative element count " + n);
        }
        return Math.multiplyExact(n, (long) dtype.byteSize());
    }

    private static void nonNegative(String op, int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(op + ": negative size rows=" + rows + " cols=" + cols);
        }
    }

    private static void requireFloat(String op, DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new UnsupportedOperationException(op + " on CUDA supports float32 and float64, not " + dtype);
        }
    }
}
