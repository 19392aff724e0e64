package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 transformer kernels of {@link CpuKernels} with the Vector API on native memory: whole-vector loads at
 * absolute addresses, FMA, {@link VectorExp} (Cephes {@code expf} from lane-wise IEEE operations, within 2 ulp;
 * not the JDK's {@code VectorOperators.EXP}, whose bits change when C2 compiles the caller), lane-parallel sums.
 * The formulas are llama2.c {@code run.c}'s (Karpathy, MIT licence); like {@code run.c}
 * built with {@code -Ofast}, sums are reassociated (lane-parallel) and products fused, so results differ from the
 * sequential float order in the last bits. One species only (the preferred one), with masked loads for a head
 * dimension that is not a multiple of its length: a second species in the same hot code makes C2's type profiles
 * of the vector classes polymorphic and the intrinsics fall back to Java loops.
 *
 * <p>Stateless apart from the RoPE table cache (an immutable table published through a volatile field); thread-safe.
 * Callers check the ranges; these methods do not.
 */
final class VectorOpsF32 {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /**
     * Species for heads of exactly its length when that is narrower than {@link #FS} (stories260K's head size 8
     * against AVX-512's 16 lanes): one whole 256-bit vector per head, as {@code run.c} built with {@code -Ofast}
     * vectorises its head loop. Used only in {@link #scoresNarrow} and {@link #weightedNarrow}, which see no other
     * species, so their type profiles stay monomorphic.
     */
    private static final VectorSpecies<Float> NS = FloatVector.SPECIES_256;
    private static final int NL = NS.length();

    /**
     * Whether heads of {@link #NL} floats are scored eight positions at a time by {@link #scoresTree}: two such heads
     * fill one {@link #FS} vector (AVX-512's 16 lanes).
     */
    private static final boolean TREE = L == 2 * NL && NL == 8;
    private static final VectorShuffle<Float> SWAP_4 = VectorShuffle.fromOp(FS, i -> i ^ 4);
    private static final VectorShuffle<Float> SWAP_2 = VectorShuffle.fromOp(FS, i -> i ^ 2);
    private static final VectorShuffle<Float> SWAP_1 = VectorShuffle.fromOp(FS, i -> i ^ 1);
    private static final VectorShuffle<Float> SWAP_HALF = VectorShuffle.fromOp(FS, i -> i ^ (L / 2));
    /** Whether {@link #laneSum} can add {@link #FS}'s lanes in its tree (4, 8 or 16 lanes: SSE/NEON, AVX2, AVX-512). */
    private static final boolean LANE_TREE = L == 4 || L == 8 || L == 16;
    private static final VectorShuffle<Float> NS_SWAP_4 = VectorShuffle.fromOp(NS, i -> i ^ 4);
    private static final VectorShuffle<Float> NS_SWAP_2 = VectorShuffle.fromOp(NS, i -> i ^ 2);
    private static final VectorShuffle<Float> NS_SWAP_1 = VectorShuffle.fromOp(NS, i -> i ^ 1);
    private static final VectorMask<Float> BIT_4 = lanesWith(4);
    private static final VectorMask<Float> BIT_2 = lanesWith(2);
    private static final VectorMask<Float> BIT_1 = lanesWith(1);
    private static final VectorMask<Float> LOW_HALF = VectorMask.fromLong(FS, (1L << (L / 2)) - 1);
    private static final VectorMask<Float> HIGH_HALF = LOW_HALF.not();

    /**
     * The sum of {@code v}'s lanes ({@link #FS}) in a fixed tree: each lane {@code i} plus lane {@code i ^ L/2}, then
     * {@code i ^ L/4}, ..., {@code i ^ 1}; lane 0. The same bits interpreted, in C1 and in C2, which
     * {@code reduceLanes(ADD)} does not give: its Java fallback adds the lanes in order and C2 in its own order (on
     * JDK 25.0.3 with AVX-512 the bits differed on 9,808 of 65,536 sums; docs/benchmarks.md, issue 14, "Round 10,
     * integrated main re-run"), so a decode's logits depended on when the JIT compiled its kernels. Other lane counts
     * (none on today's hardware) fall back to {@code reduceLanes}. Small enough for C2 to inline at a hot site; the
     * {@code tensorbuffer} launcher forces it anyway (a vector passed to a call that is not inlined is boxed).
     */
    static float laneSum(FloatVector v) {
        if (!LANE_TREE) {
            return v.reduceLanes(VectorOperators.ADD);
        }
        FloatVector r = v.add(v.rearrange(SWAP_HALF));
        if (L == 16) {
            r = r.add(r.rearrange(SWAP_4));
        }
        if (L >= 8) {
            r = r.add(r.rearrange(SWAP_2));
        }
        return r.add(r.rearrange(SWAP_1)).lane(0);
    }

    /** {@link #laneSum} of an {@link #NS} vector: lanes {@code i ^ 4}, then {@code i ^ 2}, then {@code i ^ 1}. */
    static float laneSum8(FloatVector v) {
        FloatVector r = v.add(v.rearrange(NS_SWAP_4));
        r = r.add(r.rearrange(NS_SWAP_2));
        return r.add(r.rearrange(NS_SWAP_1)).lane(0);
    }

    /** The lanes {@code i} of {@link #FS} with {@code (i & bit) != 0}. */
    private static VectorMask<Float> lanesWith(int bit) {
        long m = 0;
        for (int i = 0; i < L; i++) {
            if ((i & bit) != 0) {
                m |= 1L << i;
            }
        }
        return VectorMask.fromLong(FS, m);
    }

    /** cos/sin of {@code pos * freq_j} for {@code j < headSize / 2}; the last one computed is reused. */
    private record RopeTable(int headSize, int pos, float[] cos, float[] sin) {
    }

    private static volatile RopeTable rope;

    private VectorOpsF32() {
    }

    /** {@code sum a[i] * b[i]} over {@code n} floats. */
    static float dot(long a, long b, int n) {
        if (n < L) {
            float s = 0;
            for (int i = 0; i < n; i++) {
                s += ALL.get(F, a + i * 4L) * ALL.get(F, b + i * 4L);
            }
            return s;
        }
        int i = 0;
        FloatVector acc = FloatVector.zero(FS);
        for (; i <= n - L; i += L) {
            acc = FloatVector.fromMemorySegment(FS, ALL, a + i * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, b + i * 4L, ORDER), acc);
        }
        if (i < n) {
            VectorMask<Float> m = FS.indexInRange(i, n);
            acc = FloatVector.fromMemorySegment(FS, ALL, a + i * 4L, ORDER, m)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, b + i * 4L, ORDER, m), acc);
        }
        return laneSum(acc);
    }

    /**
     * run.c softmax of {@code size} floats from {@code px} into {@code po} (which may be {@code px}): three vector
     * passes (maximum, {@code exp(x - max)} stored and summed, division by the sum), the last partial vector of each
     * in scalar code, each pass in a small method of its own (C1 bailed out on one method with several masked loops,
     * see {@link GemvF32}).
     */
    static void softmax(long px, long po, int size) {
        if (size == 0) {
            return;
        }
        float max = maxOf(px, size);
        float sum = expSum(px, po, size, max);
        divide(po, size, sum);
    }

    /** The largest of {@code size > 0} floats. */
    private static float maxOf(long px, int size) {
        int bound = size - size % L;
        float max;
        int i;
        if (bound == 0) {
            max = Float.NEGATIVE_INFINITY;
            i = 0;
        } else {
            // The running maximum starts from the first vector, not from a broadcast of -infinity, and each step's
            // receiver is the vector just loaded (MAX is commutative, NaN and signed zeros included): in some
            // processes C2 did not intrinsify this loop when it ran from a broadcast into the running vector, and it
            // ran the Vector API's Java fallback, allocating two objects a vector, for the rest of the process (a
            // fifth of a token's time; docs/benchmarks.md, issue 14, "Round 7").
            FloatVector m = FloatVector.fromMemorySegment(FS, ALL, px, ORDER);
            for (i = L; i < bound; i += L) {
                m = FloatVector.fromMemorySegment(FS, ALL, px + i * 4L, ORDER).max(m);
            }
            max = m.reduceLanes(VectorOperators.MAX);
        }
        // the last partial vector in scalar code (the maximum is exact in any order), no masked lanewise MAX
        for (; i < size; i++) {
            max = Math.max(max, ALL.get(F, px + i * 4L));
        }
        return max;
    }

    /** Stores {@code exp(x[i] - max)} to {@code po} and returns their sum (lane-parallel). */
    private static float expSum(long px, long po, int size, float max) {
        int bound = size - size % L;
        FloatVector acc = FloatVector.zero(FS);
        int i = 0;
        for (; i < bound; i += L) {
            FloatVector e = VectorExp.exp(FloatVector.fromMemorySegment(FS, ALL, px + i * 4L, ORDER).sub(max));
            e.intoMemorySegment(ALL, po + i * 4L, ORDER);
            acc = acc.add(e);
        }
        float sum = laneSum(acc);
        // The partial last vector in scalar Math.exp: a masked vector EXP gave other bits before C2 compiled it than
        // after, and PlannedDecodeTest compares two decodes (one replayed) bit for bit.
        for (; i < size; i++) {
            float e = (float) Math.exp(ALL.get(F, px + i * 4L) - max);
            ALL.set(F, po + i * 4L, e);
            sum += e;
        }
        return sum;
    }

    /** {@code po[i] /= sum} for {@code i < size}. */
    private static void divide(long po, int size, float sum) {
        int bound = size - size % L;
        int i = 0;
        for (; i < bound; i += L) {
            FloatVector.fromMemorySegment(FS, ALL, po + i * 4L, ORDER).div(sum)
                    .intoMemorySegment(ALL, po + i * 4L, ORDER);
        }
        for (; i < size; i++) { // the partial last vector in scalar code, as in maxOf: the same quotients
            ALL.set(F, po + i * 4L, ALL.get(F, po + i * 4L) / sum);
        }
    }

    /** run.c rmsnorm of {@code rows} rows of {@code cols} floats; {@code po} may be {@code px}. */
    static void rmsnorm(long px, long pw, long po, int rows, int cols, float eps) {
        for (int r = 0; r < rows; r++) {
            long xr = px + (long) r * cols * 4;
            long or = po + (long) r * cols * 4;
            // the sum of squares as dot(xr, xr, cols), written out here: a call to dot was not inlined (too large
            // for a call site once a row), and dot could stay in C1's code (the Java fallback, allocating) for the
            // rest of the process when the compiler was busy as it was first compiled (docs/benchmarks.md, issue
            // 14, "Round 6")
            float ss;
            if (cols < L) {
                ss = 0;
                for (int i = 0; i < cols; i++) {
                    float v = ALL.get(F, xr + i * 4L);
                    ss += v * v;
                }
            } else {
                int i = 0;
                FloatVector acc = FloatVector.zero(FS);
                for (; i <= cols - L; i += L) {
                    FloatVector v = FloatVector.fromMemorySegment(FS, ALL, xr + i * 4L, ORDER);
                    acc = v.fma(v, acc);
                }
                if (i < cols) {
                    VectorMask<Float> m = FS.indexInRange(i, cols);
                    FloatVector v = FloatVector.fromMemorySegment(FS, ALL, xr + i * 4L, ORDER, m);
                    acc = v.fma(v, acc);
                }
                ss = laneSum(acc);
            }
            ss /= cols;
            ss += eps;
            ss = 1.0f / (float) Math.sqrt(ss);
            int j = 0;
            int bound = cols - cols % L;
            for (; j < bound; j += L) {
                FloatVector.fromMemorySegment(FS, ALL, pw + j * 4L, ORDER)
                        .mul(FloatVector.fromMemorySegment(FS, ALL, xr + j * 4L, ORDER).mul(ss))
                        .intoMemorySegment(ALL, or + j * 4L, ORDER);
            }
            for (; j < cols; j++) {
                ALL.set(F, or + j * 4L, ALL.get(F, pw + j * 4L) * (ss * ALL.get(F, xr + j * 4L)));
            }
        }
    }

    /** run.c SiLU: {@code x * (1 / (1 + exp(-x)))} over {@code n} floats. */
    static void silu(long px, long po, long n) {
        long i = 0;
        long bound = n - n % L;
        for (; i < bound; i += L) {
            FloatVector v = FloatVector.fromMemorySegment(FS, ALL, px + i * 4L, ORDER);
            FloatVector d = VectorExp.exp(v.neg()).add(1.0f);
            v.mul(FloatVector.broadcast(FS, 1.0f).div(d)).intoMemorySegment(ALL, po + i * 4L, ORDER);
        }
        for (; i < n; i++) {
            float v = ALL.get(F, px + i * 4L);
            ALL.set(F, po + i * 4L, v * (1.0f / (1.0f + (float) Math.exp(-v))));
        }
    }

    /** run.c RoPE of {@code dim} floats at position {@code pos}; the cos/sin table is shared by q, k and layers. */
    static void rope(long px, long po, int dim, int headSize, int pos) {
        RopeTable t = rope;
        if (t == null || t.headSize != headSize || t.pos != pos) {
            int half = headSize / 2;
            float[] c = new float[half];
            float[] s = new float[half];
            for (int j = 0; j < half; j++) {
                float freq = 1.0f / (float) Math.pow(10000.0f, (2 * j) / (float) headSize);
                float val = pos * freq;
                c[j] = (float) Math.cos(val);
                s[j] = (float) Math.sin(val);
            }
            t = new RopeTable(headSize, pos, c, s);
            rope = t;
        }
        float[] c = t.cos;
        float[] s = t.sin;
        int half = headSize / 2;
        for (int i = 0, j = 0; i < dim; i += 2) {
            float fcr = c[j];
            float fci = s[j];
            float v0 = ALL.get(F, px + i * 4L);
            float v1 = ALL.get(F, px + i * 4L + 4);
            ALL.set(F, po + i * 4L, v0 * fcr - v1 * fci);
            ALL.set(F, po + i * 4L + 4, v0 * fci + v1 * fcr);
            if (++j == half) {
                j = 0;
            }
        }
    }

    /**
     * Attention of heads {@code h0 <= h < h1} (run.c's multi-head attention loop body): scores
     * {@code q_h . k_t / sqrt(headSize)}, softmax over {@code pos + 1}, {@code out_h = sum_t att_t v_t}.
     */
    static void attentionHeads(long pq, long pk, long pv, long pa, int attStride, long po, int h0, int h1,
                               int kvMul, int headSize, int kvDim, int pos) {
        float scale = (float) Math.sqrt(headSize);
        long rowBytes = (long) kvDim * 4;
        int group = treeHeads(kvMul, headSize, kvDim);
        if (group > 0) {
            // Per pair of query heads (one of each of two key heads): the scores, whose maxima the score pass keeps,
            // then each head's softmax from that maximum (no separate maximum pass over the row) and its weighted
            // sum, while the row is still in L1. The same operations in the same order per head as below.
            for (int g = h0 / group; g < h1 / group; g++) {
                for (int j = 0; j < kvMul; j++) {
                    long maxima = scoresTree(pq, pk, kvDim, kvMul, pa, attStride, g, j, pos + 1, scale);
                    int ha = 2 * g * kvMul + j;
                    int hb = ha + kvMul;
                    narrowHead(pa + (long) ha * attStride * 4, Float.intBitsToFloat((int) maxima),
                            pv + (long) (2 * g) * NL * 4, rowBytes, po + (long) ha * NL * 4, pos + 1);
                    narrowHead(pa + (long) hb * attStride * 4, Float.intBitsToFloat((int) (maxima >>> 32)),
                            pv + (long) (2 * g + 1) * NL * 4, rowBytes, po + (long) hb * NL * 4, pos + 1);
                }
            }
            return;
        }
        for (int h = h0; h < h1; h++) {
            long qh = pq + (long) h * headSize * 4;
            long ah = pa + (long) h * attStride * 4;
            long headOff = (long) (h / kvMul) * headSize * 4;
            long kt = pk + headOff;
            long oh = po + (long) h * headSize * 4;
            if (headSize == NL && NL < L) {
                scoresNarrow(qh, kt, rowBytes, ah, pos + 1, scale);
                softmax(ah, ah, pos + 1);
                weightedNarrow(ah, pv + headOff, rowBytes, oh, pos + 1);
                continue;
            }
            for (int t = 0; t <= pos; t++, kt += rowBytes) {
                ALL.set(F, ah + t * 4L, dot(qh, kt, headSize) / scale);
            }
            softmax(ah, ah, pos + 1);
            weightedSum(ah, pv + headOff, rowBytes, oh, headSize, pos + 1);
        }
    }

    /**
     * Softmax of one head's {@code steps} scores at {@code ah} whose maximum {@code max} is known, then its weighted
     * sum of the value rows ({@link #weightedNarrow}); {@link #softmax} without its maximum pass.
     */
    private static void narrowHead(long ah, float max, long vt, long rowBytes, long oh, int steps) {
        float sum = expSum(ah, ah, steps, max);
        divide(ah, steps, sum);
        weightedNarrow(ah, vt, rowBytes, oh, steps);
    }

    /**
     * The number of query heads that {@link #scoresTree} scores in one group (the heads of two key heads), or 0 when
     * it does not apply (heads other than {@link #NL} floats wide, vectors other than {@code 2 * NL} lanes, or key
     * rows that are not whole vectors). {@link #attentionHeads} must then be called with {@code h0} and {@code h1}
     * multiples of it.
     */
    static int treeHeads(int kvMul, int headSize, int kvDim) {
        return TREE && headSize == NL && kvDim % L == 0 ? 2 * kvMul : 0;
    }

    /**
     * Scores {@code att_h[t] = (q_h . k_t) / scale} for {@code t < steps} of the query heads of key heads {@code 2g}
     * and {@code 2g + 1} (heads {@code 2g * kvMul} to {@code (2g + 2) * kvMul - 1}), heads of {@link #NL} = 8 floats
     * and {@link #FS} vectors of 16 lanes. A key row's two heads are one vector; for each query head of the pair's
     * group, eight positions' products are summed within each 8-lane half by a three-level tree of swaps and blends
     * (as in {@code GemvF32.quad}), which leaves the 8 scores of each head in its half of one vector, stored with two
     * masked stores: about a third of the shuffles of one lane sum per head and position. Every score's sum is
     * {@code ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))} of the products {@code p_i = q_i k_i}, whatever the
     * position or the grouping of positions into eights (missing positions of the last eight are zero rows).
     * One pair of query heads per call: {@code ha = 2g * kvMul + j} (of key head {@code 2g}) and
     * {@code hb = ha + kvMul} (of key head {@code 2g + 1}); returns the largest score of each, {@code ha}'s float bits
     * in the low 32 bits and {@code hb}'s in the high 32 bits (kept while scoring, so that their softmax needs no
     * maximum pass).
     */
    private static long scoresTree(long pq, long pk, int kvDim, int kvMul, long pa, int attStride, int g, int j,
                                   int steps, float scale) {
        // Every vector lives and dies inside this one method (the tree was once three small methods taking and
        // returning vectors): when such a method is not inlined (C2's node-count cutoff, or a callee C1 compiled
        // big first, depending on the order a process compiles in), its vectors are boxed and its operations run
        // the Vector API's Java fallback, which allocated about 1 KB a step and ran the decode at half speed in some
        // processes and not in others (docs/benchmarks.md, issue 14, "Round 6").
        long rowBytes = (long) kvDim * 4;
        long kc = pk + (long) g * L * 4;
        int ha = 2 * g * kvMul + j;
        int hb = ha + kvMul;
        long qa = pq + (long) ha * NL * 4;
        long qb = pq + (long) hb * NL * 4;
        FloatVector q = FloatVector.fromMemorySegment(FS, ALL, qa, ORDER, LOW_HALF)
                .blend(FloatVector.fromMemorySegment(FS, ALL, qb - NL * 4L, ORDER, HIGH_HALF), HIGH_HALF);
        long aa = pa + (long) ha * attStride * 4;
        // lanes 8..15 hold head hb's scores; stored from 8 floats before its row, masked to the upper half
        long ab = pa + (long) hb * attStride * 4 - NL * 4L;
        int t = 0;
        long kt = kc;
        // the running maximum of each half's scores (lanes 0..7: head ha, 8..15: head hb), the new scores as
        // MAX's receiver (as in maxOf; the maximum is exact in any order)
        FloatVector mx = FloatVector.broadcast(FS, Float.NEGATIVE_INFINITY);
        for (; t <= steps - 8; t += 8, kt += 8 * rowBytes) {
            // products in bit-reversed order of position (0, 4, 2, 6, 1, 5, 3, 7): the tree's output is in order
            FloatVector p0 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt, ORDER));
            FloatVector p4 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 4 * rowBytes, ORDER));
            FloatVector p2 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 2 * rowBytes, ORDER));
            FloatVector p6 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 6 * rowBytes, ORDER));
            FloatVector p1 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + rowBytes, ORDER));
            FloatVector p5 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 5 * rowBytes, ORDER));
            FloatVector p3 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 3 * rowBytes, ORDER));
            FloatVector p7 = q.mul(FloatVector.fromMemorySegment(FS, ALL, kt + 7 * rowBytes, ORDER));
            // three levels; each step x, y -> x.blend(y~, bit) + x~.blend(y, bit), ~ = lanes swapped by the
            // level's distance (4, 2, 1): in each group of lanes, x's lanes without the bit plus their partners
            // with it, beside y's likewise (lanes with the bit)
            FloatVector ab4 = p0.blend(p4.rearrange(SWAP_4), BIT_4).add(p0.rearrange(SWAP_4).blend(p4, BIT_4));
            FloatVector cd4 = p2.blend(p6.rearrange(SWAP_4), BIT_4).add(p2.rearrange(SWAP_4).blend(p6, BIT_4));
            FloatVector ef4 = p1.blend(p5.rearrange(SWAP_4), BIT_4).add(p1.rearrange(SWAP_4).blend(p5, BIT_4));
            FloatVector gh4 = p3.blend(p7.rearrange(SWAP_4), BIT_4).add(p3.rearrange(SWAP_4).blend(p7, BIT_4));
            FloatVector ad2 = ab4.blend(cd4.rearrange(SWAP_2), BIT_2).add(ab4.rearrange(SWAP_2).blend(cd4, BIT_2));
            FloatVector eh2 = ef4.blend(gh4.rearrange(SWAP_2), BIT_2).add(ef4.rearrange(SWAP_2).blend(gh4, BIT_2));
            FloatVector r = ad2.blend(eh2.rearrange(SWAP_1), BIT_1).add(ad2.rearrange(SWAP_1).blend(eh2, BIT_1))
                    .div(scale);
            r.intoMemorySegment(ALL, aa + t * 4L, ORDER, LOW_HALF);
            r.intoMemorySegment(ALL, ab + t * 4L, ORDER, HIGH_HALF);
            mx = r.max(mx);
        }
        // the maximum within each 8-lane half (the swaps stay inside a half), read from lanes 0 and 8
        mx = mx.max(mx.rearrange(SWAP_4));
        mx = mx.max(mx.rearrange(SWAP_2));
        mx = mx.max(mx.rearrange(SWAP_1));
        float maxA = mx.lane(0);
        float maxB = mx.lane(NL);
        if (t < steps) {
            // the last positions one by one: the 8-lane sum of scoresNarrow adds in the tree's order
            long kr = pk + (long) t * rowBytes;
            scoresNarrow(qa, kr + (long) (2 * g) * NL * 4, rowBytes, aa + t * 4L, steps - t, scale);
            scoresNarrow(qb, kr + (long) (2 * g + 1) * NL * 4, rowBytes, ab + (t + NL) * 4L, steps - t, scale);
            for (; t < steps; t++) {
                maxA = Math.max(maxA, ALL.get(F, aa + t * 4L));
                maxB = Math.max(maxB, ALL.get(F, ab + (t + NL) * 4L));
            }
        }
        return (long) Float.floatToRawIntBits(maxB) << 32 | (Float.floatToRawIntBits(maxA) & 0xFFFFFFFFL);
    }

    /**
     * Scores of one head whose size is one {@link #NS} vector: {@code att[t] = (q . k_t) / scale} for
     * {@code t < steps}, key rows {@code rowBytes} apart; one load, multiply and lane sum per position.
     */
    private static void scoresNarrow(long qh, long kt, long rowBytes, long ah, int steps, float scale) {
        FloatVector q = FloatVector.fromMemorySegment(NS, ALL, qh, ORDER);
        int t = 0;
        for (; t <= steps - 2; t += 2, kt += 2 * rowBytes) {
            float s0 = laneSum8(q.mul(FloatVector.fromMemorySegment(NS, ALL, kt, ORDER)));
            float s1 = laneSum8(q.mul(FloatVector.fromMemorySegment(NS, ALL, kt + rowBytes, ORDER)));
            ALL.set(F, ah + t * 4L, s0 / scale);
            ALL.set(F, ah + t * 4L + 4, s1 / scale);
        }
        if (t < steps) {
            ALL.set(F, ah + t * 4L,
                    laneSum8(q.mul(FloatVector.fromMemorySegment(NS, ALL, kt, ORDER))) / scale);
        }
    }

    /**
     * {@link #weightedSum} of one head whose size is one {@link #NS} vector: {@code out = sum_t a[t] * v_t}, four
     * accumulators over t. The same loop as {@link #weightedBlock} with the species fixed to {@code NS}: a species
     * passed in as a parameter is not a constant to C2, which then does not intrinsify the vector operations, so the
     * two widths are two methods.
     */
    private static void weightedNarrow(long pa, long vt, long rowBytes, long po, int steps) {
        FloatVector acc0 = FloatVector.zero(NS);
        FloatVector acc1 = FloatVector.zero(NS);
        FloatVector acc2 = FloatVector.zero(NS);
        FloatVector acc3 = FloatVector.zero(NS);
        int t = 0;
        for (; t <= steps - 4; t += 4, vt += 4 * rowBytes) {
            acc0 = FloatVector.fromMemorySegment(NS, ALL, vt, ORDER)
                    .fma(FloatVector.broadcast(NS, ALL.get(F, pa + t * 4L)), acc0);
            acc1 = FloatVector.fromMemorySegment(NS, ALL, vt + rowBytes, ORDER)
                    .fma(FloatVector.broadcast(NS, ALL.get(F, pa + t * 4L + 4)), acc1);
            acc2 = FloatVector.fromMemorySegment(NS, ALL, vt + 2 * rowBytes, ORDER)
                    .fma(FloatVector.broadcast(NS, ALL.get(F, pa + t * 4L + 8)), acc2);
            acc3 = FloatVector.fromMemorySegment(NS, ALL, vt + 3 * rowBytes, ORDER)
                    .fma(FloatVector.broadcast(NS, ALL.get(F, pa + t * 4L + 12)), acc3);
        }
        for (; t < steps; t++, vt += rowBytes) {
            acc0 = FloatVector.fromMemorySegment(NS, ALL, vt, ORDER)
                    .fma(FloatVector.broadcast(NS, ALL.get(F, pa + t * 4L)), acc0);
        }
        acc0.add(acc1).add(acc2.add(acc3)).intoMemorySegment(ALL, po, ORDER);
    }

    /** {@code out[i] = sum_t a[t] * v[t][i]} for {@code i < n}, rows of v {@code rowBytes} apart. */
    private static void weightedSum(long pa, long pv, long rowBytes, long po, int n, int steps) {
        // One small method per vector of columns (C1 bailed out with "out of virtual registers" on one method
        // holding both loops, which left it in slow C1 code; see GemvF32).
        if (n < L) {
            // Heads narrower than one vector (stories260K: 8 floats against 16 lanes): plain loops, which C2
            // compiles without the masked vector operations that C1 failed on.
            weightedSumScalar(pa, pv, rowBytes, po, n, steps);
            return;
        }
        int i = 0;
        for (; i <= n - L; i += L) {
            weightedBlock(pa, pv + i * 4L, rowBytes, po + i * 4L, steps);
        }
        if (i < n) {
            weightedBlockMasked(pa, pv + i * 4L, rowBytes, po + i * 4L, steps, FS.indexInRange(i, n));
        }
    }

    /** {@link #weightedSum} in scalar code, accumulating in {@code out}. */
    private static void weightedSumScalar(long pa, long pv, long rowBytes, long po, int n, int steps) {
        for (int i = 0; i < n; i++) {
            ALL.set(F, po + i * 4L, 0f);
        }
        long vt = pv;
        for (int t = 0; t < steps; t++, vt += rowBytes) {
            float a = ALL.get(F, pa + t * 4L);
            for (int i = 0; i < n; i++) {
                ALL.set(F, po + i * 4L, ALL.get(F, po + i * 4L) + a * ALL.get(F, vt + i * 4L));
            }
        }
    }

    /** {@link #weightedSum} of one whole vector of columns; four accumulators over t break the FMA latency chain. */
    private static void weightedBlock(long pa, long vt, long rowBytes, long po, int steps) {
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = FloatVector.zero(FS);
        FloatVector acc2 = FloatVector.zero(FS);
        FloatVector acc3 = FloatVector.zero(FS);
        int t = 0;
        for (; t <= steps - 4; t += 4, vt += 4 * rowBytes) {
            acc0 = FloatVector.fromMemorySegment(FS, ALL, vt, ORDER)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L)), acc0);
            acc1 = FloatVector.fromMemorySegment(FS, ALL, vt + rowBytes, ORDER)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 4)), acc1);
            acc2 = FloatVector.fromMemorySegment(FS, ALL, vt + 2 * rowBytes, ORDER)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 8)), acc2);
            acc3 = FloatVector.fromMemorySegment(FS, ALL, vt + 3 * rowBytes, ORDER)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 12)), acc3);
        }
        for (; t < steps; t++, vt += rowBytes) {
            acc0 = FloatVector.fromMemorySegment(FS, ALL, vt, ORDER)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L)), acc0);
        }
        acc0.add(acc1).add(acc2.add(acc3)).intoMemorySegment(ALL, po, ORDER);
    }

    /** {@link #weightedBlock} for the last, partial vector of columns ({@code m} selects them). */
    private static void weightedBlockMasked(long pa, long vt, long rowBytes, long po, int steps,
                                            VectorMask<Float> m) {
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = FloatVector.zero(FS);
        FloatVector acc2 = FloatVector.zero(FS);
        FloatVector acc3 = FloatVector.zero(FS);
        int t = 0;
        for (; t <= steps - 4; t += 4, vt += 4 * rowBytes) {
            acc0 = FloatVector.fromMemorySegment(FS, ALL, vt, ORDER, m)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L)), acc0);
            acc1 = FloatVector.fromMemorySegment(FS, ALL, vt + rowBytes, ORDER, m)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 4)), acc1);
            acc2 = FloatVector.fromMemorySegment(FS, ALL, vt + 2 * rowBytes, ORDER, m)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 8)), acc2);
            acc3 = FloatVector.fromMemorySegment(FS, ALL, vt + 3 * rowBytes, ORDER, m)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L + 12)), acc3);
        }
        for (; t < steps; t++, vt += rowBytes) {
            acc0 = FloatVector.fromMemorySegment(FS, ALL, vt, ORDER, m)
                    .fma(FloatVector.broadcast(FS, ALL.get(F, pa + t * 4L)), acc0);
        }
        acc0.add(acc1).add(acc2.add(acc3)).intoMemorySegment(ALL, po, ORDER, m);
    }
}
