package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Experimental one-row GEMV kernels timed against GemvF32 and OpenBLAS by GemvShapeTiming (the eight-row, unrolled
 * four-row and touch-ahead candidates of rounds 7 and 11 lost there and are gone). Not production code.
 */
final class GemvCandidates {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private GemvCandidates() {
    }

    private static float tail(long row, long x, int k) {
        float s = 0;
        for (int p = k - k % L; p < k; p++) {
            s += ALL.get(F, row + p * 4L) * ALL.get(F, x + p * 4L);
        }
        return s;
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

    /** One row at a time, read front to back, four accumulators (k unrolled four times). */
    static void rowSeq4(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        for (int i = 0; i < rows; i++) {
            rowSeq4(mat + i * rowBytes, k, x, y + i * 4L);
        }
    }

    private static void rowSeq4(long m0, int k, long x, long yi) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        long end4 = (long) (k - k % (4 * L)) * 4;
        long off = 0;
        for (; off < end4; off += 4 * L * 4L) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + L * 4L, ORDER), a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + 2 * L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + 2 * L * 4L, ORDER), a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + 3 * L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + 3 * L * 4L, ORDER), a3);
        }
        for (; off < end; off += L * 4L) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        if (end < k * 4L) {
            s += tail(m0, x, k);
        }
        ALL.set(F, yi, s);
    }

    /** {@link #rowSeq4} with int loop counters: one row front to back, four accumulators. */
    static void rowSeq4i(int rows, int k, long mat, long x, long y) {
        long rowBytes = k * 4L;
        for (int i = 0; i < rows; i++) {
            rowSeq4i(mat + i * rowBytes, k, x, y + i * 4L);
        }
    }

    private static void rowSeq4i(long m0, int k, long x, long yi) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        int n = k / L;
        int n4 = n & ~3;
        for (int j = 0; j < n4; j += 4) {
            long off = (long) j * L * 4;
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + L * 4L, ORDER), a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + 2 * L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + 2 * L * 4L, ORDER), a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + 3 * L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + 3 * L * 4L, ORDER), a3);
        }
        for (int j = n4; j < n; j++) {
            long off = (long) j * L * 4;
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        if (n * L < k) {
            s += tail(m0, x, k);
        }
        ALL.set(F, yi, s);
    }

    /**
     * The whole matrix as one loop over its vectors (two accumulators), a row's sum stored when its last vector is
     * read: no inner loop per row. Needs {@code k} a multiple of two vectors; else rowSeq.
     */
    static void flat(int rows, int k, long mat, long x, long y) {
        if (k % (2 * L) != 0) {
            rowSeq(rows, k, mat, x, y);
            return;
        }
        long rowBytes = k * 4L;
        long total = rows * rowBytes;
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        long xo = 0;
        long yi = y;
        for (long off = 0; off < total; off += 2L * L * 4) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, mat + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + xo, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, mat + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + xo + L * 4L, ORDER), a1);
            xo += 2L * L * 4;
            if (xo == rowBytes) {
                ALL.set(F, yi, VectorOpsF32.laneSum(a0.add(a1)));
                yi += 4;
                xo = 0;
                a0 = FloatVector.zero(FS);
                a1 = FloatVector.zero(FS);
            }
        }
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
