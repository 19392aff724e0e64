package org.tensorbuffer.device;

import java.lang.foreign.MemorySegment;
import org.tensorbuffer.types.DType;

/**
 * The compute kernels a backend provides for the Tensor API.
 *
 * <p>Conventions for every method: buffers are passed as a {@link DeviceBuffer} plus a byte offset; counts and
 * dimensions are in elements; matrices are row-major (C order); {@code dtype} is {@link DType#F32} or {@link DType#F64}
 * unless a method says otherwise, and a backend throws {@link UnsupportedOperationException} naming the op and the
 * type for a type it lacks. Output ranges must not overlap input ranges unless a method allows it. Calls are
 * asynchronous on devices with queues (see {@link Device}); {@link #argmax} returns to the host and so waits.
 */
public interface Kernels {

    /**
     * Row-major GEMM: {@code C = alpha * op(A) * op(B) + beta * C} with {@code op(X) = X} or {@code X^T}; {@code C} is
     * {@code m x n}, {@code op(A)} is {@code m x k}, {@code op(B)} is {@code k x n}; {@code lda}, {@code ldb},
     * {@code ldc} are row strides in elements of the matrices as stored (as in CBLAS with {@code CblasRowMajor}).
     * With {@code beta == 0}, {@code C} is not read (NaNs in it do not propagate). By default a batch of one
     * {@link #gemmStridedBatched}.
     */
    default void gemm(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                      DeviceBuffer a, long aOffset, int lda, DeviceBuffer b, long bOffset, int ldb, double beta,
                      DeviceBuffer c, long cOffset, int ldc) {
        gemmStridedBatched(dtype, transA, transB, m, n, k, alpha, a, aOffset, lda, 0, b, bOffset, ldb, 0, beta,
                c, cOffset, ldc, 0, 1);
    }

    /**
     * {@code batch} independent GEMMs as in {@link #gemm}; matrix {@code i} of A starts {@code i * strideA} elements
     * after {@code aOffset} (likewise B and C). A stride of 0 reuses the same matrix (broadcast).
     */
    void gemmStridedBatched(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                            DeviceBuffer a, long aOffset, int lda, long strideA,
                            DeviceBuffer b, long bOffset, int ldb, long strideB, double beta,
                            DeviceBuffer c, long cOffset, int ldc, long strideC, int batch);

    /** {@code out[i] = a[i] op b[i]} for {@code i < n}; {@code out} may alias {@code a} or {@code b} exactly. */
    void binary(BinaryOp op, DType dtype, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                DeviceBuffer out, long outOffset, long n);

    /** {@code out[i] = alpha * x[i]}; {@code out} may alias {@code x} exactly. */
    void scale(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n, double alpha);

    /**
     * RMSNorm over each of {@code rows} rows of {@code cols} elements:
     * {@code out[r][j] = weight[j] * x[r][j] / sqrt(mean_j(x[r][j]^2) + eps)} (as llama2.c's {@code rmsnorm}, which
     * computes {@code 1/sqrt} in the element type).
     */
    void rmsnorm(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer weight, long weightOffset,
                 DeviceBuffer out, long outOffset, int rows, int cols, double eps);

    /**
     * Numerically stable softmax over the first {@code validCols} elements of each of {@code rows} rows that are
     * {@code cols} elements apart (subtract the row maximum, exponentiate, divide by the sum); elements
     * {@code validCols..cols-1} of each output row are set to 0. {@code out} may alias {@code x} exactly.
     */
    void softmax(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows, int cols,
                 int validCols);

    /** SiLU: {@code out[i] = x[i] / (1 + exp(-x[i]))}; {@code out} may alias {@code x} exactly. */
    void silu(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n);

    /**
     * Rotary position embedding of one vector of {@code dim} elements at position {@code pos}, as llama2.c's
     * {@code run.c}: for each pair {@code (2i, 2i+1)}, {@code headDim = 2i % headSize},
     * {@code theta = pos / 10000^(headDim / headSize)}, rotate the pair by {@code theta}. {@code out} may alias
     * {@code x} exactly.
     */
    void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim, int headSize,
              int pos);

    /**
     * Multi-head attention of one query token over positions {@code 0..pos} of a KV cache, with grouped-query
     * attention ({@code nHeads} a multiple of {@code nKvHeads}), as llama2.c's {@code run.c}:
     * for head {@code h} with KV head {@code g = h / (nHeads / nKvHeads)},
     * {@code att[h][t] = softmax_t(q[h] . k[t][g] / sqrt(headSize))} for {@code t <= pos}, then
     * {@code out[h] = sum_t att[h][t] * v[t][g]}.
     *
     * @param q      {@code nHeads * headSize} elements
     * @param kCache rows of {@code nKvHeads * headSize} elements, row {@code t} for position {@code t}
     * @param vCache same layout as {@code kCache}
     * @param att    scratch of {@code nHeads * attStride} elements; holds the attention weights afterwards
     * @param out    {@code nHeads * headSize} elements
     */
    void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                   DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                   DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos);

    /**
     * Rotary position embedding of {@code rows} vectors of {@code dim} elements stored one after another, row
     * {@code r} at position {@code startPos + r}, each as {@link #rope}. {@code out} may alias {@code x} exactly. By
     * default one {@link #rope} call per row (so every backend has it; a backend may override it with one launch).
     */
    default void ropeRows(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                          int dim, int headSize, int startPos) {
        long rowBytes = (long) dim * dtype.byteSize();
        for (int r = 0; r < rows; r++) {
            rope(dtype, x, xOffset + r * rowBytes, out, outOffset + r * rowBytes, dim, headSize, startPos + r);
        }
    }

    /**
     * Causal multi-head attention of {@code rows} query tokens at positions {@code startPos..startPos+rows-1} over a
     * KV cache that already holds their keys and values: row {@code r} of {@code q} ({@code nHeads * headSize}
     * elements) attends to cache positions {@code 0..startPos+r} exactly as {@link #attention} at
     * {@code pos = startPos + r}, and its output is row {@code r} of {@code out}. {@code att} is scratch of
     * {@code nHeads * attStride} elements with {@code attStride >= startPos + rows}: head {@code h} may use the
     * {@code attStride} elements from {@code h * attStride}, e.g. for the weights of a block of
     * {@code attStride / (startPos + rows)} query rows at once (the CPU backend's GEMM form). By default one
     * {@link #attention} call per row, each head's weights in the first {@code pos + 1} elements of its stretch,
     * reused row after row (the calls are ordered on the device's queue, so the reuse is safe).
     */
    default void causalAttention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                                 DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                                 DeviceBuffer out, long outOffset, int rows, int nHeads, int nKvHeads, int headSize,
                                 int startPos) {
        long rowBytes = (long) nHeads * headSize * dtype.byteSize();
        for (int r = 0; r < rows; r++) {
            attention(dtype, q, qOffset + r * rowBytes, kCache, kOffset, vCache, vOffset, att, attOffset, attStride,
                    out, outOffset + r * rowBytes, nHeads, nKvHeads, headSize, startPos + r);
        }
    }

    /**
     * Index of the largest of {@code n} elements (the first one on ties; NaN is never the maximum unless all are
     * NaN). Waits for earlier work.
     */
    long argmax(DType dtype, DeviceBuffer x, long xOffset, long n);

    /**
     * Strided gather into a contiguous row-major destination: for every index tuple {@code i} of {@code shape},
     * {@code dst[rowMajor(i)] = src[sum_d i[d] * srcStrides[d]]} (strides in elements, may be 0 or repeat an axis, as
     * for transposes, broadcasts and diagonals). Supports every {@link DType} (it moves bytes).
     */
    void stridedCopy(DType dtype, DeviceBuffer src, long srcOffset, long[] shape, long[] srcStrides,
                     DeviceBuffer dst, long dstOffset);

    /** Row sums: {@code dst[o] = sum_{i < inner} src[o * inner + i]} for {@code o < outer}. */
    void reduceSum(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long outer,
                   long inner);

    // ---- tensor-indexed forms: positions and row indices read from device memory (for captured steps) ----

    /**
     * The {@code int32} at byte {@code offset} of {@code index}, read to the host after earlier work (a
     * {@link Device#copyToHost}): how the default tensor-indexed forms below get their index. On a device that is
     * capturing a step ({@link Device#capture}) a read to the host is not allowed, so a backend that supports capture
     * overrides every tensor-indexed form with a kernel that reads the index on the device.
     */
    static int readIndex(DeviceBuffer index, long offset) {
        int[] v = new int[1];
        index.device().copyToHost(index, offset, MemorySegment.ofArray(v), 0, Integer.BYTES);
        return v[0];
    }

    /**
     * {@link #rope} at the position held by the {@code int32} at byte {@code posOffset} of {@code pos}, read when the
     * kernel runs (so a captured step replays at whatever position was written there). By default the position is
     * read to the host ({@link #readIndex}) and {@link #rope} is called.
     *
     * @throws IllegalArgumentException (default) if the position read is negative
     */
    default void ropeAt(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                        int headSize, DeviceBuffer pos, long posOffset) {
        rope(dtype, x, xOffset, out, outOffset, dim, headSize, readIndex(pos, posOffset));
    }

    /**
     * {@link #attention} at the position held by the {@code int32} at byte {@code posOffset} of {@code pos}, read when
     * the kernel runs. Positions up to {@code attStride - 1} are allowed, and the caches must hold {@code attStride}
     * rows. By default the position is read to the host and {@link #attention} is called; a backend that reads it on
     * the device clamps it into {@code [0, attStride)} (no access outside the buffers), so the caller checks the
     * positions it writes.
     *
     * @throws IllegalArgumentException (default) if the position read is outside {@code [0, attStride)}
     */
    default void attentionAt(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                             DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                             DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize,
                             DeviceBuffer pos, long posOffset) {
        int p = readIndex(pos, posOffset);
        if (p < 0 || p >= attStride) {
            throw new IllegalArgumentException("attention: position " + p + " outside [0, " + attStride + ")");
        }
        attention(dtype, q, qOffset, kCache, kOffset, vCache, vOffset, att, attOffset, attStride, out, outOffset,
                nHeads, nKvHeads, headSize, p);
    }

    /**
     * Row gather: {@code out[0..cols) = table[i * cols .. (i + 1) * cols)} with {@code i} the {@code int32} at byte
     * {@code indexOffset} of {@code index}, read when the kernel runs (PyTorch's {@code index_select} along dim 0
     * with one index; an embedding lookup). {@code table} is {@code rows x cols} row-major. Any {@link DType}. By
     * default the index is read to the host and the row is copied with {@link Device#copy}; a backend that reads it
     * on the device clamps it into {@code [0, rows)}.
     *
     * @throws IndexOutOfBoundsException (default) naming the index if it is outside {@code [0, rows)}
     */
    default void gatherRow(DType dtype, DeviceBuffer table, long tableOffset, long rows, long cols,
                           DeviceBuffer index, long indexOffset, DeviceBuffer out, long outOffset) {
        long i = checkedRow(readIndex(index, indexOffset), rows);
        long rowBytes = cols * dtype.byteSize();
        table.device().copy(table, tableOffset + i * rowBytes, out, outOffset, rowBytes);
    }

    /**
     * Row scatter: {@code table[i * cols .. (i + 1) * cols) = src[0..cols)} with {@code i} the {@code int32} at byte
     * {@code indexOffset} of {@code index}, read when the kernel runs (PyTorch's {@code index_copy_} along dim 0 with
     * one index; a KV-cache row write). By default the index is read to the host and the row is copied with
     * {@link Device#copy}; a backend that reads it on the device clamps it into {@code [0, rows)}.
     *
     * @throws IndexOutOfBoundsException (default) naming the index if it is outside {@code [0, rows)}
     */
    default void scatterRow(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer table, long tableOffset,
                            long rows, long cols, DeviceBuffer index, long indexOffset) {
        long i = checkedRow(readIndex(index, indexOffset), rows);
        long rowBytes = cols * dtype.byteSize();
        table.device().copy(src, srcOffset, table, tableOffset + i * rowBytes, rowBytes);
    }

    private static long checkedRow(int i, long rows) {
        if (i < 0 || i >= rows) {
            throw new IndexOutOfBoundsException("row index " + i + " outside [0, " + rows + ")");
        }
        return i;
    }

    /**
     * {@link #argmax} written to device memory instead of returned: the index as an {@code int32} at byte
     * {@code outOffset} of {@code out}, so that the pick can be part of a captured step. By default {@link #argmax}
     * (which waits) and a {@link Device#copyFromHost}.
     */
    default void argmaxInto(DType dtype, DeviceBuffer x, long xOffset, long n, DeviceBuffer out, long outOffset) {
        int[] v = {Math.toIntExact(argmax(dtype, x, xOffset, n))};
        out.device().copyFromHost(MemorySegment.ofArray(v), 0, out, outOffset, Integer.BYTES);
    }
}
