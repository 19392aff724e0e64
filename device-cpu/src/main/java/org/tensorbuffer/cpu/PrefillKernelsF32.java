package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 kernels of a batched prefill ({@code T} prompt rows at once) for {@link CpuKernels}: causal attention
 * as GEMMs per head and block of query rows, and RoPE over rows with one cos/sin table per call.
 *
 * <p><b>Causal attention.</b> For head {@code h} (KV head {@code g = h / (nHeads / nKvHeads)}) and a block of
 * {@code R} query rows {@code r0..r0+R-1} at positions {@code startPos + r}, with {@code P = startPos + r0 + R}
 * cache positions in view:
 * <ol>
 *   <li>{@code S[R, P] = Q_h[r0:r0+R] . K_g[0:P]^T / sqrt(headSize)}: one GEMM ({@link Gemm}: OpenBLAS
 *       {@code sgemm} when present, else the Vector API GEMM), {@code Q_h} read in place from the {@code [T, dim]}
 *       query matrix ({@code lda = dim}) and {@code K_g} from the cache ({@code ldb = kvDim}, transposed);</li>
 *   <li>row {@code i} of {@code S}: softmax over its first {@code startPos + r0 + i + 1} columns (run.c's softmax,
 *       {@link VectorOpsF32#softmax}), the later (future) columns set to 0 — the causal mask;</li>
 *   <li>{@code O_h[r0:r0+R] = S . V_g[0:P]}: one GEMM written in place into the {@code [T, dim]} output
 *       ({@code ldc = dim}).</li>
 * </ol>
 * This is run.c's attention for each row (the same scores, the same softmax, the same weighted sum of values), with
 * the dot products and the weighted sums computed by a GEMM instead of one vector at a time, so that the keys and
 * values of a head are read once per block rather than once per row, and with the division by {@code sqrt(headSize)}
 * folded into the GEMM's {@code alpha} (a multiplication by its reciprocal: results differ from run.c's in the last
 * bits). The block of each head lives in the caller's scratch: head {@code h} uses the {@code attStride} floats from
 * {@code att + h * attStride}, as {@code R = attStride / P} rows of {@code P} floats (at least one row, which needs
 * {@code attStride >= P}); a larger scratch makes larger, faster GEMMs. Heads are independent and may run on
 * different threads.
 *
 * <p><b>RoPE over rows.</b> The cos/sin of {@code (startPos + r) * freq_j} for every row {@code r} and pair
 * {@code j < headSize / 2} are computed once per call (as run.c: {@code freq = 1 / powf(10000, 2j / headSize)},
 * {@code cosf}/{@code sinf} as {@link Math} in {@code double} cast to {@code float}), expanded to one head's lanes
 * (cos on both elements of a pair, {@code -sin}/{@code +sin} on the even/odd one), and each row is rotated with
 * whole vectors: {@code out = x * cos + swapPairs(x) * sin}.
 *
 * <p>Stateless; thread-safe. Callers check the ranges; these methods do not.
 */
final class PrefillKernelsF32 {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** Swaps the two elements of each pair of lanes ({@code i <-> i ^ 1}). */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(FS, i -> i ^ 1);

    private PrefillKernelsF32() {
    }

    /**
     * Rows of query blocks per GEMM for a view of {@code cols} cache positions in {@code attStride} floats of
     * scratch: {@code max(1, attStride / cols)}.
     */
    static int blockRows(int attStride, int cols) {
        return Math.max(1, attStride / Math.max(1, cols));
    }

    /**
     * Causal attention of heads {@code h0 <= h < h1} for {@code rows} query rows (see the class comment). Addresses
     * are absolute: {@code pq}/{@code po} of {@code [rows, nHeads * headSize]} floats, {@code pk}/{@code pv} of
     * {@code [startPos + rows, kvDim]} floats, {@code pa} of {@code nHeads * attStride} floats.
     */
    static void causalAttentionHeads(Gemm gemm, long pq, long pk, long pv, long pa, int attStride, long po,
                                     int rows, int nHeads, int nKvHeads, int headSize, int startPos, int h0,
                                     int h1) {
        int dim = nHeads * headSize;
        int kvDim = nKvHeads * headSize;
        int kvMul = nHeads / nKvHeads;
        double alpha = 1.0 / Math.sqrt(headSize);
        for (int h = h0; h < h1; h++) {
            long ah = pa + (long) h * attStride * 4;
            long headOff = (long) (h / kvMul) * headSize * 4;
            long qh = pq + (long) h * headSize * 4;
            long oh = po + (long) h * headSize * 4;
            int r0 = 0;
            while (r0 < rows) {
                int rb = Math.min(rows - r0, blockRows(attStride, startPos + rows));
                // grow the block while the causal view of its last row still fits (early blocks see fewer columns)
                while (r0 + rb < rows && (long) (rb + 1) * (startPos + r0 + rb + 1) <= attStride) {
                    rb++;
                }
                int cols = startPos + r0 + rb;
                // S = Q_h[r0:r0+rb] K_g[0:cols]^T / sqrt(headSize)
                gemm.run(false, false, true, rb, cols, headSize, alpha, qh + (long) r0 * dim * 4, dim, 0,
                        pk + headOff, kvDim, 0, 0.0, ah, cols, 0, 1);
                for (int i = 0; i < rb; i++) {
                    long row = ah + (long) i * cols * 4;
                    int valid = startPos + r0 + i + 1;
                    VectorOpsF32.softmax(row, row, valid);
                    if (valid < cols) {
                        ALL.asSlice(row + valid * 4L, (long) (cols - valid) * 4).fill((byte) 0);
                    }
                }
                // O_h[r0:r0+rb] = S V_g[0:cols]
                gemm.run(false, false, false, rb, headSize, cols, 1.0, ah, cols, 0, pv + headOff, kvDim, 0, 0.0,
                        oh + (long) r0 * dim * 4, dim, 0, 1);
                r0 += rb;
            }
        }
    }

    /**
     * run.c's RoPE of {@code rows} rows of {@code dim} floats, row {@code r} at position {@code startPos + r};
     * {@code po} may be {@code px}. {@code dim} is a multiple of the even {@code headSize}.
     */
    static void ropeRows(long px, long po, int rows, int dim, int headSize, int startPos) {
        int half = headSize / 2;
        float[] freq = new float[half];
        for (int j = 0; j < half; j++) {
            freq[j] = 1.0f / (float) Math.pow(10000.0f, (2 * j) / (float) headSize);
        }
        float[] cos = new float[headSize];
        float[] sin = new float[headSize];
        int vecBound = headSize - headSize % L;
        for (int r = 0; r < rows; r++) {
            int pos = startPos + r;
            for (int j = 0; j < half; j++) {
                float val = pos * freq[j];
                float c = (float) Math.cos(val);
                float s = (float) Math.sin(val);
                cos[2 * j] = c;
                cos[2 * j + 1] = c;
                sin[2 * j] = -s;
                sin[2 * j + 1] = s;
            }
            long xr = px + (long) r * dim * 4;
            long or = po + (long) r * dim * 4;
            for (int head = 0; head < dim; head += headSize) {
                long xh = xr + head * 4L;
                long oh = or + head * 4L;
                int i = 0;
                for (; i < vecBound; i += L) {
                    FloatVector x = FloatVector.fromMemorySegment(FS, ALL, xh + i * 4L, ORDER);
                    FloatVector c = FloatVector.fromArray(FS, cos, i);
                    FloatVector s = FloatVector.fromArray(FS, sin, i);
                    x.mul(c).add(x.rearrange(SWAP_PAIRS).mul(s)).intoMemorySegment(ALL, oh + i * 4L, ORDER);
                }
                for (; i < headSize; i += 2) {
                    float v0 = ALL.get(F, xh + i * 4L);
                    float v1 = ALL.get(F, xh + i * 4L + 4);
                    float c = cos[i];
                    float s = sin[i + 1];
                    ALL.set(F, oh + i * 4L, v0 * c - v1 * s);
                    ALL.set(F, oh + i * 4L + 4, v0 * s + v1 * c);
                }
            }
        }
    }
}
