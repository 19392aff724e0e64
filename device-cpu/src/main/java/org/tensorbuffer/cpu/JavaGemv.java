package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix-vector products {@code y[i] = alpha * dot(M[i, :], x) + beta * y[i]} in Java with the Vector API, for
 * one-column or one-row GEMMs whose matrix rows are contiguous (the decode step's {@code W x}) when OpenBLAS is
 * absent: the blocked {@link JavaGemm} would pad the single column to a whole micro-tile. {@code x} is first copied
 * to the Java heap; rows run in parallel on the common fork-join pool for large matrices. With {@code beta == 0},
 * {@code y} is not read. Addresses are absolute and bounds-checked by the caller. Thread-safe.
 */
final class JavaGemv {
    /** Matrices with at least this many elements run their rows in parallel. */
    static final long PARALLEL_ELEMENTS = 1 << 20;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private JavaGemv() {
    }

    /**
     * {@code rows} dot products of length {@code k}: row {@code i} of the matrix starts at {@code mat + i * ld}
     * elements; {@code x} and {@code y} have element strides {@code incX} and {@code incY}.
     */
    static void gemv(boolean f64, int rows, int k, double alpha, long mat, int ld, long x, int incX, double beta,
                     long y, int incY) {
        boolean parallel = (long) rows * k >= PARALLEL_ELEMENTS && rows > 1;
        if (f64) {
            double[] xs = new double[k];
            if (incX == 1) {
                MemorySegment.copy(ALL, D, x, xs, 0, k);
            } else {
                for (int p = 0; p < k; p++) {
                    xs[p] = ALL.get(D, x + (long) p * incX * 8);
                }
            }
            if (parallel) {
                IntStream.range(0, rows).parallel().forEach(i -> rowF64(i, k, alpha, mat, ld, xs, beta, y, incY));
            } else {
                for (int i = 0; i < rows; i++) {
                    rowF64(i, k, alpha, mat, ld, xs, beta, y, incY);
                }
            }
        } else {
            float[] xs = new float[k];
            if (incX == 1) {
                MemorySegment.copy(ALL, F, x, xs, 0, k);
            } else {
                for (int p = 0; p < k; p++) {
                    xs[p] = ALL.get(F, x + (long) p * incX * 4);
                }
            }
            float fa = (float) alpha;
            float fb = (float) beta;
            if (parallel) {
                IntStream.range(0, rows).parallel().forEach(i -> rowF32(i, k, fa, mat, ld, xs, fb, y, incY));
            } else {
                for (int i = 0; i < rows; i++) {
                    rowF32(i, k, fa, mat, ld, xs, fb, y, incY);
                }
            }
        }
    }

    private static void rowF32(int i, int k, float alpha, long mat, int ld, float[] xs, float beta, long y,
                               int incY) {
        long row = mat + (long) i * ld * 4;
        int v = FS.length();
        int p = 0;
        float s = 0;
        if (k >= 2 * v) {
            FloatVector acc0 = FloatVector.zero(FS);
            FloatVector acc1 = FloatVector.zero(FS);
            for (; p + 2 * v <= k; p += 2 * v) {
                acc0 = FloatVector.fromMemorySegment(FS, ALL, row + p * 4L, ORDER)
                        .fma(FloatVector.fromArray(FS, xs, p), acc0);
                acc1 = FloatVector.fromMemorySegment(FS, ALL, row + (p + v) * 4L, ORDER)
                        .fma(FloatVector.fromArray(FS, xs, p + v), acc1);
            }
            s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        }
        for (; p < k; p++) {
            s += ALL.get(F, row + p * 4L) * xs[p];
        }
        long yi = y + (long) i * incY * 4;
        ALL.set(F, yi, beta == 0 ? alpha * s : alpha * s + beta * ALL.get(F, yi));
    }

    private static void rowF64(int i, int k, double alpha, long mat, int ld, double[] xs, double beta, long y,
                               int incY) {
        long row = mat + (long) i * ld * 8;
        int v = DS.length();
        int p = 0;
        double s = 0;
        if (k >= 2 * v) {
            DoubleVector acc0 = DoubleVector.zero(DS);
            DoubleVector acc1 = DoubleVector.zero(DS);
            for (; p + 2 * v <= k; p += 2 * v) {
                acc0 = DoubleVector.fromMemorySegment(DS, ALL, row + p * 8L, ORDER)
                        .fma(DoubleVector.fromArray(DS, xs, p), acc0);
                acc1 = DoubleVector.fromMemorySegment(DS, ALL, row + (p + v) * 8L, ORDER)
                        .fma(DoubleVector.fromArray(DS, xs, p + v), acc1);
            }
            s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        }
        for (; p < k; p++) {
            s += ALL.get(D, row + p * 8L) * xs[p];
        }
        long yi = y + (long) i * incY * 8;
        ALL.set(D, yi, beta == 0 ? alpha * s : alpha * s + beta * ALL.get(D, yi));
    }
}
