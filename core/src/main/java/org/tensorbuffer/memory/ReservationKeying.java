package org.tensorbuffer.memory;

import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * What a {@link TensorBuffer} reservation is keyed by: which requests may share a reserved block. Every key is a
 * (shape, dtype) pair; the modes differ in the shape a request is mapped to. A block reserved for a key holds at least
 * {@code key.byteSize(dtype)} bytes and is handed out for any request mapped to that key, to be viewed with the
 * requested shape (row-major over the block's first {@code shape.byteSize(dtype)} bytes).
 *
 * <p>Sharing keys trades exactness for memory: with {@link #SHAPE} two shapes that are never live at the same moment
 * still each get their own blocks; with {@link #ELEMENTS} (design note 002's TensorPool) shapes with the same element
 * count share; with {@link #SIZE_CLASS} all requests that round up to the same {@link BufferPool} size class share, so
 * a reservation recorded from a step is exactly what the reactive pool would have allocated in that step
 * ({@code max concurrent count x class size} per class), made before the step instead of during it.
 *
 * <p>Measured on the 14 einsum instances (docs/benchmarks.md, "Einsum: peak reserved bytes"): SIZE_CLASS never reserves
 * more than SHAPE or ELEMENTS and removes most of SHAPE's excess on instances with many distinct shapes; on the decode
 * loop (few fixed shapes) the modes reserve within 1% of each other.
 */
public enum ReservationKeying {
    /** One key per exact (shape, dtype): the default; blocks are exactly {@code shape.byteSize(dtype)} bytes. */
    SHAPE,
    /** One key per (element count, dtype), as design note 002's TensorPool: key shape {@code [elementCount]}. */
    ELEMENTS,
    /**
     * One key per ({@link BufferPool} size class of {@code shape.byteSize(dtype)}, dtype): key shape
     * {@code [classBytes / dtype.byteSize()]} (size classes are multiples of 64 bytes, so this is exact).
     */
    SIZE_CLASS;

    /** The key shape a request of {@code shape} and {@code dtype} maps to under this mode. */
    public Shape key(Shape shape, DType dtype) {
        return switch (this) {
            case SHAPE -> shape;
            case ELEMENTS -> shape.rank() == 1 ? shape : Shape.of(shape.elementCount());
            case SIZE_CLASS -> {
                long bytes = shape.byteSize(dtype);
                long cls = bytes == 0 ? 0 : SizeClasses.size(SizeClasses.index(bytes));
                long elements = cls / dtype.byteSize();
                yield shape.rank() == 1 && shape.dim(0) == elements ? shape : Shape.of(elements);
            }
        };
    }
}
