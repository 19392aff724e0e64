package org.tensorbuffer.memory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Shape buckets for a proactive {@link TensorBuffer} under dynamic shapes: a tensor whose leading axis varies (the
 * {@code T} rows of a prompt, {@code [T, dim]}) is served from a buffer reserved for the smallest bucket shape
 * {@code [T', dim]} with {@code T' >= T}, and the caller views the exact {@code [T, dim]} over the front of that
 * block. With buckets at powers of two, at most half of a bucket's block is unused, and a bounded number of
 * reservations ({@code log2(maxRows) + 1} per trailing shape) covers every {@code T} up to {@code maxRows}.
 *
 * <p>The rule of {@link #take}: a shape with a reservation of its own is taken exactly (so the fixed shapes of a decode
 * step keep their keys); only a shape of rank 2 or more without one is rounded up to its bucket; shapes whose
 * leading axis is beyond the last bucket are taken exactly (and miss to the fallback pool unless reserved).
 *
 * <p>Immutable and thread-safe. A thin layer over {@link TensorBuffer}'s public API
 * ({@link TensorBuffer#take}, {@link TensorBuffer#reservedCount}); installed on a context with
 * {@code TensorContext.shapeBuckets(ShapeBuckets)}.
 */
public final class ShapeBuckets {
    private final long[] sizes;

    private ShapeBuckets(long[] sizes) {
        this.sizes = sizes;
    }

    /**
     * Buckets {@code 1, 2, 4, ...} up to the first power of two {@code >= maxRows}, the last one replaced by
     * {@code maxRows} itself (so that no bucket exceeds it: {@code maxRows = 200} gives {@code 1, 2, ..., 128, 200}).
     *
     * @throws IllegalArgumentException if {@code maxRows < 1}
     */
    public static ShapeBuckets powersOfTwo(long maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("bucket maximum must be >= 1, got " + maxRows);
        }
        List<Long> l = new ArrayList<>();
        for (long b = 1; b < maxRows; b *= 2) {
            l.add(b);
        }
        l.add(maxRows);
        return new ShapeBuckets(l.stream().mapToLong(Long::longValue).toArray());
    }

    /**
     * Buckets at the given leading-axis sizes.
     *
     * @throws IllegalArgumentException if {@code sizes} is empty, not strictly increasing or holds a size below 1
     */
    public static ShapeBuckets of(long... sizes) {
        if (sizes.length == 0) {
            throw new IllegalArgumentException("no bucket sizes");
        }
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 1 || (i > 0 && sizes[i] <= sizes[i - 1])) {
                throw new IllegalArgumentException("bucket sizes must be increasing and >= 1: "
                        + Arrays.toString(sizes));
            }
        }
        return new ShapeBuckets(sizes.clone());
    }

    /** The bucket sizes of the leading axis, increasing. */
    public long[] sizes() {
        return sizes.clone();
    }

    /** The largest bucket size. */
    public long maxRows() {
        return sizes[sizes.length - 1];
    }

    /** The smallest bucket size {@code >= rows}, or {@code rows} itself beyond the last bucket. */
    public long bucket(long rows) {
        int i = Arrays.binarySearch(sizes, rows);
        if (i >= 0) {
            return sizes[i];
        }
        int ins = -i - 1;
        return ins < sizes.length ? sizes[ins] : rows;
    }

    /**
     * {@code shape} with its leading axis rounded up to its bucket (rank 2 and more); a shape of rank 0 or 1 is
     * returned as it is.
     */
    public Shape bucketOf(Shape shape) {
        if (shape.rank() < 2) {
            return shape;
        }
        long b = bucket(shape.dim(0));
        if (b == shape.dim(0)) {
            return shape;
        }
        long[] d = shape.dims();
        d[0] = b;
        return Shape.of(d);
    }

    /**
     * A block for a tensor of ({@code shape}, {@code dtype}) from {@code tb}: the shape's own reservation if it has
     * one, otherwise its bucket's ({@link TensorBuffer#take} of {@link #bucketOf}); a miss falls back to the pool with
     * the bucket's byte size. The block's capacity is at least {@code shape.byteSize(dtype)}; the tensor over it uses
     * the front. Thread-safe as {@link TensorBuffer#take}.
     */
    public Block take(TensorBuffer tb, Shape shape, DType dtype) {
        if (shape.rank() < 2 || tb.reservedCount(shape, dtype) > 0) {
            return tb.take(shape, dtype);
        }
        return tb.take(bucketOf(shape), dtype);
    }

    @Override
    public String toString() {
        return "ShapeBuckets" + Arrays.toString(sizes);
    }
}
