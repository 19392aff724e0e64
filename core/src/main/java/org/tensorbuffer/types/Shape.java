package org.tensorbuffer.types;

import java.util.Arrays;

/**
 * An immutable tensor shape: a list of non-negative dimensions in row-major (C) order, the last dimension varying
 * fastest.
 *
 * <p>A rank-0 shape ({@code Shape.of()}) is a scalar with one element; a shape with a zero dimension has zero
 * elements. Element counts and byte sizes are computed with overflow checks. Instances are immutable, thread-safe and
 * cache their hash code, so they are cheap map keys (the proactive {@link org.tensorbuffer.memory.TensorBuffer} is
 * keyed by shape).
 */
public final class Shape {
    private static final Shape SCALAR = new Shape(new long[0]);

    private final long[] dims;
    private final long elementCount;
    private final int hash;

    private Shape(long[] dims) {
        long n = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("element count of shape " + Arrays.toString(dims)
                        + " overflows a long");
            }
        }
        this.dims = dims;
        this.elementCount = n;
        this.hash = Arrays.hashCode(dims);
    }

    /**
     * A shape with the given dimensions (copied).
     *
     * @throws IllegalArgumentException naming the shape if a dimension is negative or the element count overflows
     */
    public static Shape of(long... dims) {
        return dims.length == 0 ? SCALAR : new Shape(dims.clone());
    }

    /** A shape with the given {@code int} dimensions. */
    public static Shape of(int... dims) {
        long[] l = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            l[i] = dims[i];
        }
        return dims.length == 0 ? SCALAR : new Shape(l);
    }

    /** The rank-0 (scalar) shape. */
    public static Shape scalar() {
        return SCALAR;
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** Dimension {@code axis} (negative axes count from the end, as in NumPy). */
    public long dim(int axis) {
        return dims[axis < 0 ? dims.length + axis : axis];
    }

    /** A copy of the dimensions. */
    public long[] dims() {
        return dims.clone();
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public long elementCount() {
        return elementCount;
    }

    /** The element count as an {@code int}, for host arrays; throws if it does not fit. */
    public int elementCountInt() {
        if (elementCount > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("shape " + this + " has too many elements for a Java array");
        }
        return (int) elementCount;
    }

    /**
     * Row-major strides in elements: {@code strides[rank-1] == 1}, {@code strides[i] == strides[i+1] * dims[i+1]}.
     */
    public long[] strides() {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }

    /**
     * Bytes needed to hold this shape with elements of {@code dtype}.
     *
     * @throws IllegalArgumentException naming the shape if the byte size overflows a long
     */
    public long byteSize(DType dtype) {
        try {
            return Math.multiplyExact(elementCount, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("byte size of shape " + this + " as " + dtype + " overflows a long");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof Shape s && s.hash == hash && Arrays.equals(s.dims, dims));
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /** NumPy-like rendering, e.g. {@code [2, 3]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
