package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Experimental GEMV kernels (AVX-512, 16 lanes) timed against GemvF32 by GemvShapeTiming. Not production code. */
final class GemvCandidates {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final VectorShuffle<Float> SWAP_8 = VectorShuffle.fromOp(FS, i -> i ^ 8);
    private static final VectorShuffle<Float> SWAP_4 = VectorShuffle.fromOp(FS, i -> i ^ 4);
    private static final VectorShuffle<Float> SWAP_2 = VectorShuffle.fromOp(FS, i -> i ^ 2);
    private static final VectorShuffle<Float> SWAP_1 = VectorShuffle.fromOp(FS, i -> i ^ 1);
    private static final VectorMask<Float> BIT_8 = VectorMask.fromLong(FS, lanes(8));
    private static final VectorMask<Float> BIT_4 = VectorMask.fromLong(FS, lanes(4));
    private static final VectorMask<Float> BIT_2 = VectorMask.fromLong(FS, lanes(2));

    private static long lanes(int bit) {
        long m = 0;
        for (int i = 0; i < L; i++) {
            if ((i & bit) != 0) {
                m |= 1L << i;
            }
        }
        return m;
    }

    private GemvCandidates() {
    }

    /** Eight rows a pass, then GemvF32 for the rest (k multiple of 16 assumed for timing; tail scalar). */
    static void oct(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        int i = 0;
        for (; i + 8 <= rows; i += 8) {
            oct8(mat + i * rowBytes, rowBytes, k, x, y + i * 4L);
        }
        GemvF32.rows(i, rows, k, 1f, mat, k, x, 1, 0f, y, 1);
    }

    private static void oct8(long m0, long rb, int k, long x, long y0) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        FloatVector a4 = FloatVector.zero(FS);
        FloatVector a5 = FloatVector.zero(FS);
        FloatVector a6 = FloatVector.zero(FS);
        FloatVector a7 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        for (long off = 0; off < end; off += L * 4L) {
            FloatVector xv = FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER);
            long p = m0 + off;
            a0 = FloatVector.fromMemorySegment(FS, ALL, p, ORDER).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, p + rb, ORDER).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, p + 2 * rb, ORDER).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, p + 3 * rb, ORDER).fma(xv, a3);
            a4 = FloatVector.fromMemorySegment(FS, ALL, p + 4 * rb, ORDER).fma(xv, a4);
            a5 = FloatVector.fromMemorySegment(FS, ALL, p + 5 * rb, ORDER).fma(xv, a5);
            a6 = FloatVector.fromMemorySegment(FS, ALL, p + 6 * rb, ORDER).fma(xv, a6);
            a7 = FloatVector.fromMemorySegment(FS, ALL, p + 7 * rb, ORDER).fma(xv, a7);
        }
        // lanes of row r end in lane: 0:0 1:8 2:4 3:12 4:2 5:10 6:6 7:14
        FloatVector b01 = a0.add(a0.rearrange(SWAP_8)).blend(a1.add(a1.rearrange(SWAP_8)), BIT_8);
        FloatVector b23 = a2.add(a2.rearrange(SWAP_8)).blend(a3.add(a3.rearrange(SWAP_8)), BIT_8);
        FloatVector b45 = a4.add(a4.rearrange(SWAP_8)).blend(a5.add(a5.rearrange(SWAP_8)), BIT_8);
        FloatVector b67 = a6.add(a6.rearrange(SWAP_8)).blend(a7.add(a7.rearrange(SWAP_8)), BIT_8);
        FloatVector c03 = b01.add(b01.rearrange(SWAP_4)).blend(b23.add(b23.rearrange(SWAP_4)), BIT_4);
        FloatVector c47 = b45.add(b45.rearrange(SWAP_4)).blend(b67.add(b67.rearrange(SWAP_4)), BIT_4);
        FloatVector d = c03.add(c03.rearrange(SWAP_2)).blend(c47.add(c47.rearrange(SWAP_2)), BIT_2);
        d = d.add(d.rearrange(SWAP_1));
        float s0 = d.lane(0);
        float s1 = d.lane(8);
        float s2 = d.lane(4);
        float s3 = d.lane(12);
        float s4 = d.lane(2);
        float s5 = d.lane(10);
        float s6 = d.lane(6);
        float s7 = d.lane(14);
        if (end < k * 4L) {
            s0 += tail(m0, x, k);
            s1 += tail(m0 + rb, x, k);
            s2 += tail(m0 + 2 * rb, x, k);
            s3 += tail(m0 + 3 * rb, x, k);
            s4 += tail(m0 + 4 * rb, x, k);
            s5 += tail(m0 + 5 * rb, x, k);
            s6 += tail(m0 + 6 * rb, x, k);
            s7 += tail(m0 + 7 * rb, x, k);
        }
        ALL.set(F, y0, s0);
        ALL.set(F, y0 + 4, s1);
        ALL.set(F, y0 + 8, s2);
        ALL.set(F, y0 + 12, s3);
        ALL.set(F, y0 + 16, s4);
        ALL.set(F, y0 + 20, s5);
        ALL.set(F, y0 + 24, s6);
        ALL.set(F, y0 + 28, s7);
    }

    private static float tail(long row, long x, int k) {
        float s = 0;
        for (int p = k - k % L; p < k; p++) {
            s += ALL.get(F, row + p * 4L) * ALL.get(F, x + p * 4L);
        }
        return s;
    }

    /** Four rows a pass with k unrolled twice (eight accumulators), then GemvF32 for the rest. */
    static void quad2(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            quad2(mat + i * rowBytes, rowBytes, k, x, y + i * 4L);
        }
        GemvF32.rows(i, rows, k, 1f, mat, k, x, 1, 0f, y, 1);
    }

    private static void quad2(long m0, long rb, int k, long x, long y0) {
        long m1 = m0 + rb;
        long m2 = m1 + rb;
        long m3 = m2 + rb;
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        FloatVector b0 = FloatVector.zero(FS);
        FloatVector b1 = FloatVector.zero(FS);
        FloatVector b2 = FloatVector.zero(FS);
        FloatVector b3 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        long end2 = (long) (k - k % (2 * L)) * 4;
        long off = 0;
        for (; off < end2; off += 2 * L * 4L) {
            FloatVector xv = FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER);
            FloatVector xw = FloatVector.fromMemorySegment(FS, ALL, x + off + L * 4L, ORDER);
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m1 + off, ORDER).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m2 + off, ORDER).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m3 + off, ORDER).fma(xv, a3);
            b0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER).fma(xw, b0);
            b1 = FloatVector.fromMemorySegment(FS, ALL, m1 + off + L * 4L, ORDER).fma(xw, b1);
            b2 = FloatVector.fromMemorySegment(FS, ALL, m2 + off + L * 4L, ORDER).fma(xw, b2);
            b3 = FloatVector.fromMemorySegment(FS, ALL, m3 + off + L * 4L, ORDER).fma(xw, b3);
        }
        if (off < end) {
            FloatVector xv = FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER);
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m1 + off, ORDER).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m2 + off, ORDER).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m3 + off, ORDER).fma(xv, a3);
        }
        a0 = a0.add(b0);
        a1 = a1.add(b1);
        a2 = a2.add(b2);
        a3 = a3.add(b3);
        FloatVector c01 = a0.add(a0.rearrange(SWAP_8)).blend(a1.add(a1.rearrange(SWAP_8)), BIT_8);
        FloatVector c23 = a2.add(a2.rearrange(SWAP_8)).blend(a3.add(a3.rearrange(SWAP_8)), BIT_8);
        FloatVector c = c01.add(c01.rearrange(SWAP_4)).blend(c23.add(c23.rearrange(SWAP_4)), BIT_4);
        c = c.add(c.rearrange(SWAP_2));
        c = c.add(c.rearrange(SWAP_1));
        float s0 = c.lane(0);
        float s1 = c.lane(8);
        float s2 = c.lane(4);
        float s3 = c.lane(12);
        if (end < k * 4L) {
            s0 += tail(m0, x, k);
            s1 += tail(m1, x, k);
            s2 += tail(m2, x, k);
            s3 += tail(m3, x, k);
        }
        ALL.set(F, y0, s0);
        ALL.set(F, y0 + 4, s1);
        ALL.set(F, y0 + 8, s2);
        ALL.set(F, y0 + 12, s3);
    }

    static int sinkBits;

    /** GemvF32's four rows a pass, each pass also touching the next pass's rows one int per vector (so their lines
     * are on their way from memory while this pass computes). */
    static void quadPf(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        int i = 0;
        for (; i + 8 <= rows; i += 4) {
            quadPf(mat + i * rowBytes, rowBytes, k, x, y + i * 4L);
        }
        GemvF32.rows(i, rows, k, 1f, mat, k, x, 1, 0f, y, 1);
    }

    private static void quadPf(long m0, long rb, int k, long x, long y0) {
        long m1 = m0 + rb;
        long m2 = m1 + rb;
        long m3 = m2 + rb;
        long n0 = m3 + rb;
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        int touched = 0;
        long end = (long) (k - k % L) * 4;
        long far = 4 * rb;
        for (long off = 0; off < end; off += L * 4L) {
            FloatVector xv = FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER);
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m1 + off, ORDER).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m2 + off, ORDER).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m3 + off, ORDER).fma(xv, a3);
            touched += ALL.get(ValueLayout.JAVA_INT_UNALIGNED, m0 + far + off)
                    | ALL.get(ValueLayout.JAVA_INT_UNALIGNED, m1 + far + off)
                    | ALL.get(ValueLayout.JAVA_INT_UNALIGNED, m2 + far + off)
                    | ALL.get(ValueLayout.JAVA_INT_UNALIGNED, m3 + far + off);
        }
        if (touched == 0x7f7f7f7f) {
            sinkBits = touched;
        }
        FloatVector c01 = a0.add(a0.rearrange(SWAP_8)).blend(a1.add(a1.rearrange(SWAP_8)), BIT_8);
        FloatVector c23 = a2.add(a2.rearrange(SWAP_8)).blend(a3.add(a3.rearrange(SWAP_8)), BIT_8);
        FloatVector c = c01.add(c01.rearrange(SWAP_4)).blend(c23.add(c23.rearrange(SWAP_4)), BIT_4);
        c = c.add(c.rearrange(SWAP_2));
        c = c.add(c.rearrange(SWAP_1));
        float s0 = c.lane(0);
        float s1 = c.lane(8);
        float s2 = c.lane(4);
        float s3 = c.lane(12);
        if (end < k * 4L) {
            s0 += tail(m0, x, k);
            s1 += tail(m1, x, k);
            s2 += tail(m2, x, k);
            s3 += tail(m3, x, k);
        }
        ALL.set(F, y0, s0);
        ALL.set(F, y0 + 4, s1);
        ALL.set(F, y0 + 8, s2);
        ALL.set(F, y0 + 12, s3);
    }

    /** One row at a time, read front to back (one stream), k unrolled twice. */
    static void rowSeq(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        for (int i = 0; i < rows; i++) {
            rowSeq(mat + i * rowBytes, k, x, y + i * 4L);
        }
    }

    private static void rowSeq(long m0, int k, long x, long yi) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        long end2 = (long) (k - k % (2 * L)) * 4;
        long off = 0;
        for (; off < end2; off += 2 * L * 4L) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + L * 4L, ORDER), a1);
        }
        if (off < end) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
        }
        float s = a0.add(a1).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        if (end < k * 4L) {
            s += tail(m0, x, k);
        }
        ALL.set(F, yi, s);
    }

    /** Reads every float of the matrix (eight accumulators of adds): the rate memory streams to one core. */
    static float stream(long mat, long elements) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        long end = elements * 4 - elements * 4 % (4L * L * 4);
        for (long off = 0; off < end; off += 4L * L * 4) {
            a0 = a0.add(FloatVector.fromMemorySegment(FS, ALL, mat + off, ORDER));
            a1 = a1.add(FloatVector.fromMemorySegment(FS, ALL, mat + off + L * 4L, ORDER));
            a2 = a2.add(FloatVector.fromMemorySegment(FS, ALL, mat + off + 2 * L * 4L, ORDER));
            a3 = a3.add(FloatVector.fromMemorySegment(FS, ALL, mat + off + 3 * L * 4L, ORDER));
        }
        return a0.add(a1).add(a2).add(a3).lane(0);
    }
}
