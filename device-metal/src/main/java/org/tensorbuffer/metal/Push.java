package org.tensorbuffer.metal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorbuffer.types.DType;

/**
 * Builder of a push-constant block, written in the order the shader declares its members: element-type values
 * ({@code T}: float or double, aligned to their size) and 32-bit unsigned or signed integers. Reused under the
 * device lock.
 */
final class Push {
    /** Push-constant bytes every pipeline layout declares (the minimum {@code maxPushConstantsSize} of Vulkan). */
    static final int MAX_BYTES = 128;

    private final ByteBuffer buf = ByteBuffer.allocateDirect(MAX_BYTES).order(ByteOrder.nativeOrder());
    private DType dtype = DType.F32;

    /** Starts a new block whose {@code T} members are of {@code type}. */
    Push begin(DType type) {
        buf.clear();
        dtype = type;
        return this;
    }

    /** Appends a {@code T} value. */
    Push t(double v) {
        if (dtype == DType.F64) {
            buf.position((buf.position() + 7) & ~7);
            buf.putDouble(v);
        } else {
            buf.putFloat((float) v);
        }
        return this;
    }

    /**
     * Appends a {@code uint}.
     *
     * @throws UnsupportedOperationException if {@code v} does not fit 32 unsigned bits (what: the value's meaning)
     */
    Push u(long v, String what) {
        if (v < 0 || v > 0xFFFF_FFFFL) {
            throw new UnsupportedOperationException(what + " = " + v + " does not fit the 32-bit indices of the "
                    + "Vulkan kernels");
        }
        buf.putInt((int) v);
        return this;
    }

    /** Appends an {@code int}. */
    Push i(long v, String what) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException(what + " = " + v + " does not fit the 32-bit strides of the "
                    + "Vulkan kernels");
        }
        buf.putInt((int) v);
        return this;
    }

    /** The block written so far, positioned for reading. */
    ByteBuffer bytes() {
        return buf.duplicate().order(ByteOrder.nativeOrder()).flip();
    }
}
