package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float32 matrix-vector product {@code y[i] = alpha * dot(M[i, :], x) + beta * y[i]} for rows {@code r0 <= i < r1}
 * with the Vector API, written to be bound by the memory bandwidth of streaming {@code M}: four rows at a time, so
 * that each vector of {@code x} is loaded once for four rows and four independent FMA chains hide the FMA latency,
 * except contiguous rows of at least {@link #SEQUENTIAL_MIN_K} elements, a multiple of two vectors, read as one
 * stream ({@link #flat}), and other rows of {@link #SEQUENTIAL_MIN_K}..{@link #SEQUENTIAL_MAX_K} elements, read one at
 * a time front to back;
 * {@code x} is read in place from native memory (no copy, no allocation); one species (the preferred one) with a
 * scalar tail. The decode step's {@code W x} products (weights {@code [out, in]} row-major times a vector) take this
 * path in {@link CpuKernels}' row blocks when OpenBLAS is absent or not wanted ({@code tensorbuffer.cpu.gemm=java}),
 * for matrices that {@link GemvChoice} gives the Vector API (on AMD CPUs, from 65,536 elements: OpenBLAS's
 * {@code sgemv} streamed them 1.2-1.9x slower on a Zen 5 EPYC, docs/benchmarks.md, issue 14, "Round 12: the GEMV on
 * Zen 5"), and for long rows when OpenBLAS has threads of its own but its single-threaded kernel cannot be called
 * directly (see {@code CpuKernels.blasGemvCallRows}, {@code OpenBlas.sgemvKernelRows}); otherwise the blocks are
 * OpenBLAS's, measured faster at the decode shapes on an Intel CPU (docs/benchmarks.md, issue 14, "Round 7: the
 * GEMV", "Round 8: 2-thread decode").
 *
 * <p>Rows start {@code ld} elements apart; {@code x} and {@code y} have element strides {@code incX}, {@code incY}
 * (a strided {@code x} is read per element). With {@code beta == 0}, {@code y} is not read. Addresses are absolute
 * and bounds-checked by the caller. Stateless and thread-safe; callers may run disjoint row ranges concurrently.
 */
final class GemvF32 {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /**
     * Whether {@link #quad} sums its four accumulators in one shuffle tree (AVX2's 8 or AVX-512's 16 lanes): halves
     * swapped and added, the halves of two vectors blended into one, then quarters, then pairs of lanes within the
     * quarters, leaving the sums in lanes {@code 0}, {@code L/2}, {@code L/4} and {@code 3L/4}. Four separate
     * {@code reduceLanes} cost {@code 4 log2(L)} shuffles and adds; this costs about half, which matters for the
     * short rows of a small model (k = 64 is four vectors a row on AVX-512: as many shuffles as FMAs).
     */
    private static final boolean JOINT = L == 8 || L == 16;
    private static final VectorShuffle<Float> SWAP_HALF = VectorShuffle.fromOp(FS, i -> i ^ (L / 2));
    private static final VectorShuffle<Float> SWAP_QUARTER = VectorShuffle.fromOp(FS, i -> i ^ Math.max(1, L / 4));
    private static final VectorShuffle<Float> SWAP_2 = VectorShuffle.fromOp(FS, i -> i ^ 2);
    private static final VectorShuffle<Float> SWAP_1 = VectorShuffle.fromOp(FS, i -> i ^ 1);
    private static final VectorMask<Float> UPPER_HALF = VectorMask.fromLong(FS, lanesWhere(L / 2));
    private static final VectorMask<Float> UPPER_QUARTERS = VectorMask.fromLong(FS, lanesWhere(Math.max(1, L / 4)));

    /** The lanes {@code i} with {@code (i & bit) != 0}, as mask bits. */
    private static long lanesWhere(int bit) {
        long m = 0;
        for (int i = 0; i < L; i++) {
            if ((i & bit) != 0) {
                m |= 1L << i;
            }
        }
        return m;
    }

    /**
     * Rows of {@code SEQUENTIAL_MIN_K <= k <= SEQUENTIAL_MAX_K} elements run one at a time, front to back
     * ({@link #sequential}), not four at a time: measured on the 2-core Zen 5 EPYC with the matrix read from memory
     * (GemvShapeTiming dram; docs/benchmarks.md, issue 14, "Round 12: the GEMV on Zen 5"), 24-32 GB/s against 16-22
     * for four rows at k = 192..384, while four rows led from k = 448 up and below 192.
     */
    static final int SEQUENTIAL_MIN_K = 192;
    /** See {@link #SEQUENTIAL_MIN_K}. */
    static final int SEQUENTIAL_MAX_K = 384;

    private GemvF32() {
    }

    /** Rows {@code r0 <= i < r1} of the product (see the class comment). */
    static void rows(int r0, int r1, int k, float alpha, long mat, int ld, long x, int incX, float beta, long y,
                     int incY) {
        if (incX != 1) {
            for (int i = r0; i < r1; i++) {
                long row = mat + (long) i * ld * 4;
                float s = 0;
                for (int p = 0; p < k; p++) {
                    s += ALL.get(F, row + p * 4L) * ALL.get(F, x + (long) p * incX * 4);
                }
                store(y + (long) i * incY * 4, s, alpha, beta);
            }
            return;
        }
        long rowBytes = (long) ld * 4;
        int i = r0;
        if (ld == k && k % (2 * L) == 0 && k >= SEQUENTIAL_MIN_K) {
            flat(mat + r0 * rowBytes, r1 - r0, k, x, alpha, beta, y + (long) r0 * incY * 4, (long) incY * 4);
            return;
        }
        if (k >= SEQUENTIAL_MIN_K && k <= SEQUENTIAL_MAX_K) {
            for (; i < r1; i++) {
                sequential(mat + i * rowBytes, k, x, alpha, beta, y + (long) i * incY * 4);
            }
            return;
        }
        for (; i + 4 <= r1; i += 4) {
            quad(mat + i * rowBytes, rowBytes, k, x, alpha, beta, y + (long) i * incY * 4, (long) incY * 4);
        }
        for (; i < r1; i++) {
            single(mat + i * rowBytes, k, x, alpha, beta, y + (long) i * incY * 4);
        }
    }

    // The loops live in small methods of their own: C1 (tiered level 3, on the way to C2) inlines the Vector API's
    // force-inlined Java fallbacks, and a method with many vector operations in loops made it bail out ("out of
    // virtual registers"), which left the method in slow C1 code for the rest of the run (seen in JFR compilation
    // events when the JIT's threads shared one CPU with the decode).

    /** Four rows from {@code m0}, {@code rowBytes} apart, into {@code y0}, {@code y0 + yStep}, ... */
    private static void quad(long m0, long rowBytes, int k, long x, float alpha, float beta, long y0, long yStep) {
        long m1 = m0 + rowBytes;
        long m2 = m1 + rowBytes;
        long m3 = m2 + rowBytes;
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS);
        FloatVector a3 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        for (long off = 0; off < end; off += L * 4L) {
            FloatVector xv = FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER);
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m1 + off, ORDER).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(FS, ALL, m2 + off, ORDER).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(FS, ALL, m3 + off, ORDER).fma(xv, a3);
        }
        float s0;
        float s1;
        float s2;
        float s3;
        if (JOINT) {
            // the lane sums of the four accumulators at once (see the constants above), written out here rather than
            // in a method of its own: a method that takes or returns vectors and is not inlined (C2's node-count
            // cutoff, or a callee C1 already compiled big, depending on the order a process compiles in) boxes its
            // vectors and runs the Vector API's Java fallback (docs/benchmarks.md, issue 14, "Round 6")
            FloatVector b01 = a0.add(a0.rearrange(SWAP_HALF)).blend(a1.add(a1.rearrange(SWAP_HALF)), UPPER_HALF);
            FloatVector b23 = a2.add(a2.rearrange(SWAP_HALF)).blend(a3.add(a3.rearrange(SWAP_HALF)), UPPER_HALF);
            FloatVector c = b01.add(b01.rearrange(SWAP_QUARTER)).blend(b23.add(b23.rearrange(SWAP_QUARTER)),
                    UPPER_QUARTERS);
            if (L == 16) {
                c = c.add(c.rearrange(SWAP_2)); // quarters of four lanes: pairs, then lanes
            }
            c = c.add(c.rearrange(SWAP_1));
            s0 = c.lane(0);
            s1 = c.lane(L / 2);
            s2 = c.lane(L / 4);
            s3 = c.lane(3 * L / 4);
        } else {
            s0 = VectorOpsF32.laneSum(a0);
            s1 = VectorOpsF32.laneSum(a1);
            s2 = VectorOpsF32.laneSum(a2);
            s3 = VectorOpsF32.laneSum(a3);
        }
        if (end < k * 4L) {
            s0 += tail(m0, x, k);
            s1 += tail(m1, x, k);
            s2 += tail(m2, x, k);
            s3 += tail(m3, x, k);
        }
        store(y0, s0, alpha, beta);
        store(y0 + yStep, s1, alpha, beta);
        store(y0 + 2 * yStep, s2, alpha, beta);
        store(y0 + 3 * yStep, s3, alpha, beta);
    }

    /**
     * One row read front to back, two vectors a step into two accumulators, summed in {@link VectorOpsF32#laneSum}'s
     * fixed tree: for rows of {@link #SEQUENTIAL_MIN_K}..{@link #SEQUENTIAL_MAX_K} elements, where it streams a matrix
     * from memory faster than four rows at a time.
     */
    private static void sequential(long m0, int k, long x, float alpha, float beta, long yi) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        long end2 = (long) (k - k % (2 * L)) * 4;
        long off = 0;
        for (; off < end2; off += 2L * L * 4) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off + L * 4L, ORDER), a1);
        }
        if (off < end) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
        }
        float s = VectorOpsF32.laneSum(a0.add(a1));
        if (end < k * 4L) {
            s += tail(m0, x, k);
        }
        store(yi, s, alpha, beta);
    }

    /**
     * {@code rows} contiguous rows of {@code k} elements ({@code k} a multiple of two vectors) from {@code m0} as one
     * loop over the matrix's vectors, two a step into two accumulators, a row's sum ({@link VectorOpsF32#laneSum} of
     * the two) stored when its last vector is read: the same operations, in the same order, as {@link #sequential}
     * on each row, so the same bits. With no loop per row, its speed does not depend on the row lengths C2 saw when
     * it compiled it: a loop per row ran a 512-wide matrix at 11-17 GB/s or 25-31 GB/s depending on the rows the
     * process had multiplied first, this one at 25-34 (GemvShapeTiming dram, three orders; docs/benchmarks.md,
     * issue 14, "Round 12: the GEMV on Zen 5").
     */
    private static void flat(long m0, int rows, int k, long x, float alpha, float beta, long y0, long yStep) {
        long rowBytes = k * 4L;
        long total = rows * rowBytes;
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        long xo = 0;
        long yi = y0;
        for (long off = 0; off < total; off += 2L * L * 4) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + xo, ORDER), a0);
            a1 = FloatVector.fromMemorySegment(FS, ALL, m0 + off + L * 4L, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + xo + L * 4L, ORDER), a1);
            xo += 2L * L * 4;
            if (xo == rowBytes) {
                store(yi, VectorOpsF32.laneSum(a0.add(a1)), alpha, beta);
                yi += yStep;
                xo = 0;
                a0 = FloatVector.zero(FS);
                a1 = FloatVector.zero(FS);
            }
        }
    }

    /** One row. */
    private static void single(long m0, int k, long x, float alpha, float beta, long yi) {
        FloatVector a0 = FloatVector.zero(FS);
        long end = (long) (k - k % L) * 4;
        for (long off = 0; off < end; off += L * 4L) {
            a0 = FloatVector.fromMemorySegment(FS, ALL, m0 + off, ORDER)
                    .fma(FloatVector.fromMemorySegment(FS, ALL, x + off, ORDER), a0);
        }
        float s = VectorOpsF32.laneSum(a0); // a fixed tree: the same bits in every JIT tier, unlike reduceLanes
        if (end < k * 4L) {
            s += tail(m0, x, k);
        }
        store(yi, s, alpha, beta);
    }

    /**
     * The dot product of the last {@code k % L} elements of a row with those of {@code x}, in sequential scalar
     * code: a masked vector reduction gave different bits in interpreted and C2-compiled code, so a run's result
     * depended on the JIT's progress (PlannedDecodeTest compares two decodes bit for bit).
     */
    private static float tail(long row, long x, int k) {
        float s = 0;
        for (int p = k - k % L; p < k; p++) {
            s += ALL.get(F, row + p * 4L) * ALL.get(F, x + p * 4L);
        }
        return s;
    }

    private static void store(long yi, float s, float alpha, float beta) {
        ALL.set(F, yi, beta == 0 ? alpha * s : alpha * s + beta * ALL.get(F, yi));
    }
}
