package org.tensorbuffer.metal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.metal.CommandBatcher.Binding;

/**
 * The {@link Kernels} of a {@link VulkanDevice}: GLSL compute shaders (see {@code shaders/*.comp}), one pipeline per
 * op and element type, recorded into the device's command batches.
 *
 * <p>Buffers are bound at the largest offset at or below the requested one that is a multiple of
 * {@code minStorageBufferOffsetAlignment} (at least 16), and the rest of the offset is passed in elements as a push
 * constant, so slices at any element-aligned offset work, and a buffer larger than {@code maxStorageBufferRange} can
 * be used as long as one operand's range fits in it. Indices are 32-bit: a single operand of more than 2^32 elements
 * is rejected with {@link UnsupportedOperationException}.
 *
 * <p>{@link DType#F32} everywhere; {@link DType#F64} where the device has {@code shaderFloat64}, else every method
 * throws {@link UnsupportedOperationException} saying that float64 is unsupported on this device. Thread-safe (under
 * the device lock).
 */
final class VulkanKernels implements Kernels {
    private static final int MAX_GROUPS = 65535;

    private final VulkanDevice dev;
    private final Push push = new Push();
    private final Map<String, DeviceBuffer> ropeTables = new HashMap<>();

    VulkanKernels(VulkanDevice dev) {
        this.dev = dev;
    }

    /** A bound operand: the binding and the operand's first element relative to it. */
    private record Arg(Binding binding, long elem) {
    }

    private int esize(String op, DType dtype) {
        if (dtype == DType.F32) {
            return 4;
        }
        if (dtype == DType.F64) {
            if (!dev.supportsFloat64()) {
                throw new UnsupportedOperationException("float64 unsupported on this device (" + dev.name()
                        + " has no shaderFloat64): " + op);
            }
            return 8;
        }
        throw new UnsupportedOperationException(op + " does not support " + dtype
                + " on the Vulkan device (float32 and float64 only)");
    }

    /** Binds {@code elems} elements of {@code esize} bytes at byte {@code offset} of {@code b}, after checks. */
    private Arg arg(String what, DeviceBuffer b, long offset, long elems, int esize) {
        VulkanBuffer vb = dev.resolve(b);
        if (elems < 0) {
            throw new IllegalArgumentException(what + ": negative element count " + elems);
        }
        VulkanDevice.checkRange(b, offset, elems * esize);
        long abs = b.address() + offset;
        if (abs % esize != 0) {
            throw new IllegalArgumentException(what + ": byte offset " + abs + " is not a multiple of the element size "
                    + esize);
        }
        VulkanSetup.VkFacts f = dev.facts();
        long align = Math.max(16, f.minStorageBufferOffsetAlignment());
        long descOffset = abs - abs % align;
        long range = Math.min(vb.size - descOffset, f.maxStorageBufferRange());
        long need = abs - descOffset + elems * esize;
        if (need > range) {
            throw new UnsupportedOperationException(what + ": " + elems + " elements at byte " + abs
                    + " exceed the device's maxStorageBufferRange of " + f.maxStorageBufferRange() + " bytes");
        }
        return new Arg(new Binding(vb, descOffset, range), (abs - descOffset) / esize);
    }

    private static int groups(long work, int perGroup) {
        return (int) Math.max(1, Math.min(MAX_GROUPS, (work + perGroup - 1) / perGroup));
    }

    private void dispatch(String shader, DType dtype, int gx, int gy, int gz, Arg... args) {
        Binding[] b = new Binding[args.length];
        for (int i = 0; i < args.length; i++) {
            b[i] = args[i].binding();
        }
        long pipeline = dev.pipeline(shader, dtype);
        dev.batcher().dispatch(pipeline, b, push.bytes(), gx, gy, gz);
    }

    private static void nonNegative(String what, long v) {
        if (v < 0) {
            throw new IllegalArgumentException(what + " must be >= 0, got " + v);
        }
    }

    /** Elements spanned by a row-major matrix of {@code rows x cols} with row stride {@code ld}. */
    private static long extent(long rows, long cols, long ld) {
        return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
    }


    @Override
    public void gemmStridedBatched(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                                   DeviceBuffer a, long aOffset, int lda, long strideA,
                                   DeviceBuffer b, long bOffset, int ldb, long strideB, double beta,
                                   DeviceBuffer c, long cOffset, int ldc, long strideC, int batch) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("gemm", dtype);
            nonNegative("m", m);
            nonNegative("n", n);
            nonNegative("k", k);
            nonNegative("batch", batch);
            nonNegative("strideA", strideA);
            nonNegative("strideB", strideB);
            nonNegative("strideC", strideC);
            long aRows = transA ? k : m;
            long aCols = transA ? m : k;
            long bRows = transB ? n : k;
            long bCols = transB ? k : n;
            if (lda < Math.max(1, aCols) || ldb < Math.max(1, bCols) || ldc < Math.max(1, n)) {
                throw new IllegalArgumentException("gemm: leading dimensions lda=" + lda + ", ldb=" + ldb + ", ldc="
                        + ldc + " are smaller than the rows they stride (" + aCols + ", " + bCols + ", " + n + ")");
            }
            if (m == 0 || n == 0 || batch == 0) {
                return;
            }
            long aExt = (batch - 1) * strideA + extent(aRows, aCols, lda);
            long bExt = (batch - 1) * strideB + extent(bRows, bCols, ldb);
            long cExt = (batch - 1) * strideC + extent(m, n, ldc);
            Arg aa = arg("gemm A", a, aOffset, aExt, es);
            Arg bb = arg("gemm B", b, bOffset, bExt, es);
            Arg cc = arg("gemm C", c, cOffset, cExt, es);
            push.begin(dtype).t(alpha).t(beta).u(aa.elem(), "A offset").u(bb.elem(), "B offset")
                    .u(cc.elem(), "C offset").u(m, "m").u(n, "n").u(k, "k").u(lda, "lda").u(ldb, "ldb")
                    .u(ldc, "ldc").u(strideA, "strideA").u(strideB, "strideB").u(strideC, "strideC")
                    .u((transA ? 1 : 0) | (transB ? 2 : 0), "flags").u(batch, "batch");
            int gz = Math.min(batch, MAX_GROUPS);
            if (m == 1 || n == 1) {
                dispatch("gemm_dot", dtype, groups((long) m * n, 1), 1, gz, aa, bb, cc);
            } else {
                int gx = (n + 15) / 16;
                int gy = (m + 15) / 16;
                if (gx > MAX_GROUPS || gy > MAX_GROUPS) {
                    throw new UnsupportedOperationException("gemm: " + m + " x " + n + " exceeds the dispatch limits");
                }
                dispatch("gemm", dtype, gx, gy, gz, aa, bb, cc);
            }
        }
    }

    @Override
    public void binary(BinaryOp op, DType dtype, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer out, long outOffset, long n) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("binary " + op, dtype);
            nonNegative("n", n);
            if (n == 0) {
                return;
            }
            Arg x = arg("a", a, aOffset, n, es);
            Arg y = arg("b", b, bOffset, n, es);
            Arg o = arg("out", out, outOffset, n, es);
            push.begin(dtype).u(x.elem(), "a offset").u(y.elem(), "b offset").u(o.elem(), "out offset").u(n, "n")
                    .u(op.ordinal(), "op");
            dispatch("binary", dtype, groups(n, 256), 1, 1, x, y, o);
        }
    }

    @Override
    public void scale(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n,
                      double alpha) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("scale", dtype);
            nonNegative("n", n);
            if (n == 0) {
                return;
            }
            Arg xa = arg("x", x, xOffset, n, es);
            Arg o = arg("out", out, outOffset, n, es);
            push.begin(dtype).t(alpha).u(xa.elem(), "x offset").u(o.elem(), "out offset").u(n, "n");
            dispatch("scale", dtype, groups(n, 256), 1, 1, xa, o);
        }
    }

    @Override
    public void rmsnorm(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer weight, long weightOffset,
                        DeviceBuffer out, long outOffset, int rows, int cols, double eps) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("rmsnorm", dtype);
            nonNegative("rows", rows);
            nonNegative("cols", cols);
            if (rows == 0 || cols == 0) {
                return;
            }
            long total = (long) rows * cols;
            Arg xa = arg("x", x, xOffset, total, es);
            Arg w = arg("weight", weight, weightOffset, cols, es);
            Arg o = arg("out", out, outOffset, total, es);
            push.begin(dtype).t(eps).u(xa.elem(), "x offset").u(w.elem(), "weight offset").u(o.elem(), "out offset")
                    .u(rows, "rows").u(cols, "cols");
            dispatch("rmsnorm", dtype, groups(rows, 1), 1, 1, xa, w, o);
        }
    }

    @Override
    public void softmax(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                        int cols, int validCols) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("softmax", dtype);
            nonNegative("rows", rows);
            nonNegative("cols", cols);
            if (validCols < 0 || validCols > cols) {
                throw new IllegalArgumentException("softmax: validCols " + validCols + " is not in [0, " + cols + "]");
            }
            if (rows == 0 || cols == 0) {
                return;
            }
            long total = (long) rows * cols;
            Arg xa = arg("x", x, xOffset, total, es);
            Arg o = arg("out", out, outOffset, total, es);
            push.begin(dtype).u(xa.elem(), "x offset").u(o.elem(), "out offset").u(rows, "rows").u(cols, "cols")
                    .u(validCols, "validCols");
            dispatch("softmax", dtype, groups(rows, 1), 1, 1, xa, o);
        }
    }

    @Override
    public void silu(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("silu", dtype);
            nonNegative("n", n);
            if (n == 0) {
                return;
            }
            Arg xa = arg("x", x, xOffset, n, es);
            Arg o = arg("out", out, outOffset, n, es);
            push.begin(dtype).u(xa.elem(), "x offset").u(o.elem(), "out offset").u(n, "n");
            dispatch("silu", dtype, groups(n, 256), 1, 1, xa, o);
        }
    }

    @Override
    public void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                     int headSize, int pos) {
        nonNegative("pos", pos);
        rope(dtype, x, xOffset, out, outOffset, dim, headSize, pos, null, 0);
    }

    /** Reads the position on the device ({@code rope.comp} with {@code posFromBuf}), so it can be captured. */
    @Override
    public void ropeAt(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                       int headSize, DeviceBuffer pos, long posOffset) {
        rope(dtype, x, xOffset, out, outOffset, dim, headSize, 0, pos, posOffset);
    }

    /** One rope dispatch: the position is {@code pos}, or read from {@code posBuf} where that is not null. */
    private void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                      int headSize, int pos, DeviceBuffer posBuf, long posOffset) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("rope", dtype);
            nonNegative("dim", dim);
            if (headSize <= 0 || headSize % 2 != 0 || dim % 2 != 0) {
                throw new IllegalArgumentException("rope: dim " + dim + " and headSize " + headSize
                        + " must be even (headSize > 0)");
            }
            Arg ia = posBuf == null ? null : arg("pos", posBuf, posOffset, 1, 4);
            if (dim == 0) {
                return;
            }
            DeviceBuffer table = ropeTable(dtype, headSize);
            Arg xa = arg("x", x, xOffset, dim, es);
            Arg o = arg("out", out, outOffset, dim, es);
            Arg f = arg("rope table", table, 0, headSize / 2, es);
            push.begin(dtype).u(xa.elem(), "x offset").u(o.elem(), "out offset").u(f.elem(), "table offset")
                    .u(dim, "dim").u(headSize, "headSize").u(pos, "pos").u(ia == null ? 0 : ia.elem(), "pos offset")
                    .u(ia == null ? 0 : 1, "pos from buffer");
            if (ia == null) {
                dispatch("rope", dtype, groups(dim / 2, 256), 1, 1, xa, o, f);
            } else {
                dispatch("rope", dtype, groups(dim / 2, 256), 1, 1, xa, o, f, ia);
            }
        }
    }

    /**
     * The rotary frequencies {@code freq[j] = 1 / 10000^(2j / headSize)} for {@code j < headSize / 2}, computed on the
     * host once per type and head size as llama2.c does ({@code 1.0f / powf(10000.0f, head_dim / (float) head_size)}
     * in float; the same in double for F64).
     */
    private DeviceBuffer ropeTable(DType dtype, int headSize) {
        String key = dtype + "/" + headSize;
        DeviceBuffer t = ropeTables.get(key);
        if (t != null) {
            return t;
        }
        int half = headSize / 2;
        int es = dtype.byteSize();
        MemorySegment host = MemorySegment.ofArray(new byte[half * es]);
        for (int j = 0; j < half; j++) {
            int hd = 2 * j;
            if (dtype == DType.F32) {
                float freq = 1.0f / (float) Math.pow(10000.0, hd / (float) headSize);
                host.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, freq);
            } else {
                double freq = 1.0 / Math.pow(10000.0, hd / (double) headSize);
                host.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, j, freq);
            }
        }
        t = dev.allocate(host.byteSize(), 16);
        dev.upload(host, 0, t, 0, host.byteSize());
        ropeTables.put(key, t);
        return t;
    }

    /** Forgets the rope tables (when the device closes, which destroys every buffer). */
    void forgetTables() {
        ropeTables.clear();
    }

    @Override
    public void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                          DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                          DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos) {
        attention(dtype, q, qOffset, kCache, kOffset, vCache, vOffset, att, attOffset, attStride, out, outOffset,
                nHeads, nKvHeads, headSize, pos, null, 0);
    }

    /**
     * Reads the position on the device ({@code attention.comp} with {@code posFromBuf}, clamped to
     * {@code attStride - 1}), so it can be captured; the caches are bound for {@code attStride} rows.
     */
    @Override
    public void attentionAt(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                            DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                            DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize,
                            DeviceBuffer pos, long posOffset) {
        attention(dtype, q, qOffset, kCache, kOffset, vCache, vOffset, att, attOffset, attStride, out, outOffset,
                nHeads, nKvHeads, headSize, 0, pos, posOffset);
    }

    /**
     * One attention dispatch: at position {@code pos} (caches bound for {@code pos + 1} rows), or at the position read
     * from {@code posBuf} where that is not null (caches bound for {@code attStride} rows).
     */
    private void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                           DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                           DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos,
                           DeviceBuffer posBuf, long posOffset) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("attention", dtype);
            if (posBuf == null) {
                nonNegative("pos", pos);
            }
            if (nHeads <= 0 || nKvHeads <= 0 || headSize <= 0 || nHeads % nKvHeads != 0) {
                throw new IllegalArgumentException("attention: nHeads " + nHeads + " must be a positive multiple of "
                        + "nKvHeads " + nKvHeads + " and headSize " + headSize + " positive");
            }
            if (posBuf == null && attStride < pos + 1) {
                throw new IllegalArgumentException("attention: attStride " + attStride + " < pos + 1 = " + (pos + 1));
            }
            if (posBuf != null && attStride <= 0) {
                throw new IllegalArgumentException("attention: attStride " + attStride + " must be positive");
            }
            long qn = (long) nHeads * headSize;
            long kvDim = (long) nKvHeads * headSize;
            long rows = posBuf == null ? pos + 1L : attStride;
            Arg qa = arg("q", q, qOffset, qn, es);
            Arg ka = arg("kCache", kCache, kOffset, rows * kvDim, es);
            Arg va = arg("vCache", vCache, vOffset, rows * kvDim, es);
            Arg aa = arg("att", att, attOffset, (long) nHeads * attStride, es);
            Arg oa = arg("out", out, outOffset, qn, es);
            Arg ia = posBuf == null ? null : arg("pos", posBuf, posOffset, 1, 4);
            push.begin(dtype).u(qa.elem(), "q offset").u(ka.elem(), "k offset").u(va.elem(), "v offset")
                    .u(aa.elem(), "att offset").u(attStride, "attStride").u(oa.elem(), "out offset")
                    .u(nHeads, "nHeads").u(nKvHeads, "nKvHeads").u(headSize, "headSize").u(pos, "pos")
                    .u(ia == null ? 0 : ia.elem(), "pos offset").u(ia == null ? 0 : 1, "pos from buffer");
            if (ia == null) {
                dispatch("attention", dtype, groups(nHeads, 1), 1, 1, qa, ka, va, aa, oa);
            } else {
                dispatch("attention", dtype, groups(nHeads, 1), 1, 1, qa, ka, va, aa, oa, ia);
            }
        }
    }

    /** On the device ({@code row_copy.comp}, 32-bit words); rows of a size or at offsets not a multiple of 4 bytes
     * go through the default (index read to the host). */
    @Override
    public void gatherRow(DType dtype, DeviceBuffer table, long tableOffset, long rows, long cols,
                          DeviceBuffer index, long indexOffset, DeviceBuffer out, long outOffset) {
        if (!rowCopy(0, dtype, table, tableOffset, rows, cols, index, indexOffset, out, outOffset)) {
            Kernels.super.gatherRow(dtype, table, tableOffset, rows, cols, index, indexOffset, out, outOffset);
        }
    }

    /** On the device ({@code row_copy.comp}), as {@link #gatherRow}. */
    @Override
    public void scatterRow(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer table, long tableOffset,
                           long rows, long cols, DeviceBuffer index, long indexOffset) {
        if (!rowCopy(1, dtype, src, srcOffset, rows, cols, index, indexOffset, table, tableOffset)) {
            Kernels.super.scatterRow(dtype, src, srcOffset, table, tableOffset, rows, cols, index, indexOffset);
        }
    }

    /**
     * Records {@code row_copy} (mode 0: gather row {@code idx} of {@code src} into {@code dst}; 1: scatter {@code src}
     * into row {@code idx} of {@code dst}); false, recording nothing, if the row is not whole 32-bit words.
     */
    private boolean rowCopy(int mode, DType dtype, DeviceBuffer src, long srcOffset, long rows, long cols,
                            DeviceBuffer index, long indexOffset, DeviceBuffer dst, long dstOffset) {
        synchronized (dev) {
            dev.ensureOpen();
            nonNegative("rows", rows);
            nonNegative("cols", cols);
            long rowBytes = Math.multiplyExact(cols, (long) dtype.byteSize());
            if (rowBytes % 4 != 0 || (src.address() + srcOffset) % 4 != 0 || (dst.address() + dstOffset) % 4 != 0) {
                return false;
            }
            Arg ia = arg("index", index, indexOffset, 1, 4);
            if (rows == 0) {
                throw new IndexOutOfBoundsException("row index into a table of 0 rows");
            }
            long words = rowBytes / 4;
            if (words == 0) {
                return true;
            }
            long tableWords = Math.multiplyExact(rows, words);
            Arg sa = arg("src", src, srcOffset, mode == 0 ? tableWords : words, 4);
            Arg da = arg("dst", dst, dstOffset, mode == 0 ? words : tableWords, 4);
            push.begin(DType.F32).u(sa.elem(), "src offset").u(da.elem(), "dst offset").u(words, "row words")
                    .u(ia.elem(), "index offset").u(rows, "rows").u(mode, "mode");
            dispatch("row_copy", null, groups(words, 256), 1, 1, sa, da, ia);
            return true;
        }
    }

    @Override
    public long argmax(DType dtype, DeviceBuffer x, long xOffset, long n) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("argmax", dtype);
            if (n <= 0) {
                throw new IllegalArgumentException("argmax of " + n + " elements");
            }
            if (dev.batcher().capturing()) {
                throw new IllegalStateException("argmax inside a capture returns to the host: use argmaxInto");
            }
            Arg xa = arg("x", x, xOffset, n, es);
            VulkanBuffer r = dev.resultBuffer();
            Arg ra = new Arg(new Binding(r, 0, r.size), 0);
            push.begin(dtype).u(xa.elem(), "x offset").u(n, "n").u(0, "result offset");
            dispatch("argmax", dtype, 1, 1, 1, xa, ra);
            if (dev.batcher().preparing()) {
                return 0;
            }
            dev.batcher().waitIdle();
            dev.invalidate(r);
            return Integer.toUnsignedLong(MemorySegment.ofAddress(r.mapped).reinterpret(4)
                    .get(ValueLayout.JAVA_INT, 0));
        }
    }

    /** On the device ({@code argmax.comp} writing at the output's offset); does not wait, so it can be captured. */
    @Override
    public void argmaxInto(DType dtype, DeviceBuffer x, long xOffset, long n, DeviceBuffer out, long outOffset) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("argmax", dtype);
            if (n <= 0) {
                throw new IllegalArgumentException("argmax of " + n + " elements");
            }
            Arg xa = arg("x", x, xOffset, n, es);
            Arg oa = arg("out", out, outOffset, 1, 4);
            push.begin(dtype).u(xa.elem(), "x offset").u(n, "n").u(oa.elem(), "result offset");
            dispatch("argmax", dtype, 1, 1, 1, xa, oa);
        }
    }

    @Override
    public void stridedCopy(DType dtype, DeviceBuffer src, long srcOffset, long[] shape, long[] srcStrides,
                            DeviceBuffer dst, long dstOffset) {
        synchronized (dev) {
            dev.ensureOpen();
            if (shape.length != srcStrides.length) {
                throw new IllegalArgumentException("stridedCopy: shape has " + shape.length + " dims but strides "
                        + srcStrides.length);
            }
            long total = 1;
            long minOff = 0;
            long maxOff = 0;
            for (int d = 0; d < shape.length; d++) {
                nonNegative("shape[" + d + "]", shape[d]);
                total = Math.multiplyExact(total, shape[d]);
            }
            if (total == 0) {
                return;
            }
            // drop size-1 dims and merge dims that are contiguous in the source
            long[] sh = new long[shape.length];
            long[] stv = new long[shape.length];
            int rank = 0;
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] == 1) {
                    continue;
                }
                long s = srcStrides[d];
                if (s < 0) {
                    minOff += (shape[d] - 1) * s;
                } else {
                    maxOff += (shape[d] - 1) * s;
                }
                if (rank > 0 && stv[rank - 1] == s * shape[d]) {
                    sh[rank - 1] *= shape[d];
                    stv[rank - 1] = s;
                } else {
                    sh[rank] = shape[d];
                    stv[rank] = s;
                    rank++;
                }
            }
            if (rank > 8) {
                throw new UnsupportedOperationException("stridedCopy: " + rank + " non-mergeable dims (at most 8)");
            }
            int es = dtype.byteSize();
            long srcFirst = srcOffset + minOff * es;
            if (srcFirst < 0) {
                throw new IndexOutOfBoundsException("stridedCopy: negative strides reach before byte 0 of " + src);
            }
            Arg sa = arg("src", src, srcFirst, maxOff - minOff + 1, es);
            Arg da = arg("dst", dst, dstOffset, total, es);
            push.begin(DType.F32).u(sa.elem() - minOff, "src offset").u(da.elem(), "dst offset").u(total, "count")
                    .u(rank, "rank").u(es, "element size");
            for (int d = 0; d < 8; d++) {
                push.u(d < rank ? sh[d] : 1, "shape");
            }
            for (int d = 0; d < 8; d++) {
                push.i(d < rank ? stv[d] : 0, "stride");
            }
            dispatch("strided_copy", null, groups(total, 256), 1, 1, sa, da);
        }
    }

    @Override
    public void reduceSum(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long outer,
                          long inner) {
        synchronized (dev) {
            dev.ensureOpen();
            int es = esize("reduceSum", dtype);
            nonNegative("outer", outer);
            nonNegative("inner", inner);
            if (outer == 0) {
                return;
            }
            Arg s = arg("src", src, srcOffset, Math.multiplyExact(outer, inner), es);
            Arg d = arg("dst", dst, dstOffset, outer, es);
            push.begin(dtype).u(s.elem(), "src offset").u(d.elem(), "dst offset").u(outer, "outer")
                    .u(inner, "inner");
            dispatch("reduce_sum", dtype, groups(outer, 1), 1, 1, s, d);
        }
    }

    /** {@link VulkanDevice#fill}: a byte pattern of the value's bits, repeated {@code count} times. */
    void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        synchronized (dev) {
            dev.ensureOpen();
            nonNegative("count", count);
            int es = dtype.byteSize();
            long bits = switch (dtype) {
                case F32 -> Float.floatToRawIntBits((float) value) & 0xFFFF_FFFFL;
                case F64 -> Double.doubleToRawLongBits(value);
                case F16 -> Float.floatToFloat16((float) value) & 0xFFFFL;
                case BF16 -> bf16(value);
                case I32 -> ((int) value) & 0xFFFF_FFFFL;
                case I64 -> (long) value;
            };
            if (count == 0) {
                dev.resolve(dst);
                VulkanDevice.checkRange(dst, offset, 0);
                return;
            }
            VulkanBuffer vb = dev.resolve(dst);
            long bytes = Math.multiplyExact(count, es);
            VulkanDevice.checkRange(dst, offset, bytes);
            long abs = dst.address() + offset;
            if (abs % 2 != 0) {
                throw new IllegalArgumentException("fill: byte offset " + abs + " is not 2-byte aligned");
            }
            VulkanSetup.VkFacts f = dev.facts();
            long align = Math.max(16, f.minStorageBufferOffsetAlignment());
            long descOffset = abs - abs % align;
            long range = Math.min(vb.size - descOffset, f.maxStorageBufferRange()) & ~3L;
            long rel = abs - descOffset;
            if (rel + bytes > range) {
                throw new UnsupportedOperationException("fill of " + bytes + " bytes at byte " + abs
                        + " exceeds the device's maxStorageBufferRange of " + f.maxStorageBufferRange() + " bytes");
            }
            if (2 == es) {
                bits |= bits << 16;
                bits |= bits << 32;
            }
            int patLen = es == 2 ? 4 : es;
            push.begin(DType.F32).u(rel, "byte offset").u(bytes, "byte count").u(patLen, "pattern")
                    .u(bits & 0xFFFF_FFFFL, "pattern low").u(bits >>> 32, "pattern high");
            Arg a = new Arg(new Binding(vb, descOffset, range), 0);
            dispatch("fill", null, groups((bytes + 3) / 4 + 1, 256), 1, 1, a);
        }
    }

    /** float -> bfloat16 with round to nearest even (NaN stays a quiet NaN). */
    static long bf16(double value) {
        int b = Float.floatToRawIntBits((float) value);
        if (Float.isNaN((float) value)) {
            return ((b >>> 16) | 0x40) & 0xFFFF;
        }
        int rounded = b + 0x7FFF + ((b >>> 16) & 1);
        return (rounded >>> 16) & 0xFFFF;
    }
}
