package org.tensorbuffer.cuda;

import org.tensorbuffer.types.DType;

/**
 * The bit pattern one element of a {@link org.tensorbuffer.device.Device#fill} holds: {@code value} converted to the
 * type as a Java cast would ({@code (float)}, {@code (int)}, {@code (long)}), F16 and BF16 rounded to nearest even.
 * Stateless.
 */
final class FillPattern {
    private FillPattern() {
    }

    /** The element's bits in the low {@code dtype.byteSize()} bytes of the result. */
    static long bits(DType dtype, double value) {
        return switch (dtype) {
            case F64 -> Double.doubleToRawLongBits(value);
            case F32 -> Float.floatToRawIntBits((float) value) & 0xffffffffL;
            case F16 -> Float.floatToFloat16((float) value) & 0xffffL;
            case BF16 -> bfloat16((float) value);
            case I32 -> ((int) value) & 0xffffffffL;
            case I64 -> (long) value;
        };
    }

    /** Round-to-nearest-even truncation of a binary32 to its upper 16 bits; NaN stays a (quiet) NaN. */
    static long bfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return ((bits >>> 16) | 0x40) & 0xffffL;
        }
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (rounded >>> 16) & 0xffffL;
    }
}
