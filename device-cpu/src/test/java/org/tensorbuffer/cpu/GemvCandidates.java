package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * An experimental one-row GEMV kernel with four accumulators, timed against GemvF32 and OpenBLAS by GemvShapeTiming: its
 * speed depends on the row lengths the process multiplied first (docs/benchmarks.md, issue 14, "Round 12: the GEMV on
 * Zen 5"). The other candidates of rounds 7, 11 and 12 are gone: the eight-row, unrolled four-row and touch-ahead ones
 * lost; the two-accumulator row and the one-loop matrix became GemvF32.sequential and GemvF32.flat. Not production
 * code.
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
