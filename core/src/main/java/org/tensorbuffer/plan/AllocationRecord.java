package org.tensorbuffer.plan;

import java.util.Objects;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * One tensor allocation of a recorded run: what was asked for and when it was live.
 *
 * <p>Time is a logical clock over the run's events: every allocation and every release (the tensor's block going
 * back, i.e. the last tensor over it closed) advances it by one, so no two events share a time. A tensor is live from
 * {@code firstUse} (its allocation) to {@code lastUse} (its release) inclusive; two tensors whose intervals intersect
 * must not share memory, two whose intervals are disjoint may. A tensor still live when the run ended has
 * {@code escaped} set and {@code lastUse} equal to the trace's end time.
 *
 * @param index     position in the run's allocation order (0, 1, ...)
 * @param bytes     bytes requested ({@code shape.byteSize(dtype)}), {@code >= 0}
 * @param alignment required alignment of the tensor's first byte, a power of two
 * @param shape     the tensor's shape (may be {@code null} for synthetic traces)
 * @param dtype     the tensor's element type (may be {@code null} for synthetic traces)
 * @param firstUse  logical time of the allocation
 * @param lastUse   logical time of the release, {@code >= firstUse}
 * @param escaped   whether the tensor outlived the run
 */
public record AllocationRecord(int index, long bytes, long alignment, Shape shape, DType dtype, long firstUse,
                               long lastUse, boolean escaped) {

    /**
     * @throws IllegalArgumentException if bytes is negative, alignment not a power of two, or lastUse precedes
     *                                  firstUse
     */
    public AllocationRecord {
        if (bytes < 0) {
            throw new IllegalArgumentException("allocation " + index + ": negative size " + bytes);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("allocation " + index + ": alignment " + alignment
                    + " is not a power of two");
        }
        if (lastUse < firstUse) {
            throw new IllegalArgumentException("allocation " + index + ": last use " + lastUse + " before first use "
                    + firstUse);
        }
    }

    /** Bytes the tensor occupies in an arena: {@link #bytes()} rounded up to a multiple of the alignment. */
    public long paddedBytes() {
        return (bytes + alignment - 1) & -alignment;
    }

    /** Whether this tensor and {@code o} are live at a common time (and so may not share memory). */
    public boolean overlapsInTime(AllocationRecord o) {
        return firstUse <= o.lastUse && o.firstUse <= lastUse;
    }

    /** Whether a request for {@code shape}/{@code dtype}/{@code bytes} is the same as this recorded one. */
    public boolean matches(Shape shape, DType dtype, long bytes) {
        return this.bytes == bytes && this.dtype == dtype && Objects.equals(this.shape, shape);
    }

    /** E.g. {@code #3 [64, 64] float32 16384 B @[5, 9]}. */
    public String describe() {
        return "#" + index + " " + (shape == null ? "" : shape + " ") + (dtype == null ? "" : dtype + " ") + bytes
                + " B @[" + firstUse + ", " + (escaped ? "end" : lastUse) + "]";
    }
}
