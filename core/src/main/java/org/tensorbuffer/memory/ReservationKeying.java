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
 * <p>Measured on the 14 einsum instances (docs/benchmarks.md, "Einsum: peak reserved bytes against the liveness lower
 * bound"): no mode is best everywhere. SIZE_CLASS removes SHAPE's excess where many distinct shapes are live at
 * different times (the MPS instance: 41x the lower bound by shape, 5.9x by size class, as the reactive pool), but
 * rounding up costs up to 10% where few large shapes dominate (gm_queen5_5_3, the closed MERA), where SHAPE is best;
 * ELEMENTS is best on the language-model instances. So the einsum workload records under all three and keeps the
 * smallest plan, and a {@link ReservationPlan} carries the keying it was recorded under. SHAPE stays the
 * TensorBuffer's default: exact blocks, and on the decode loop (few fixed shapes) there is nothing to share.
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
