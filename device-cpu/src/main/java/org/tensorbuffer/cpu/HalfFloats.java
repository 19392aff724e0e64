package org.tensorbuffer.cpu;

/**
 * Conversions of a {@code double} to the 16-bit float formats with round-to-nearest-even.
 *
 * <p>A direct {@code double -> float -> half} conversion can round twice; rounding to {@code float} with
 * round-to-odd first and then to the 16-bit format with round-to-nearest-even gives the correctly rounded result,
 * because {@code float} keeps more than two extra bits (Boldo and Melquiond, "When double rounding is odd", 2005).
 */
final class HalfFloats {
    private HalfFloats() {
    }

    /** {@code value} rounded to {@code float} with round-to-odd (sticky last bit). */
    static float toFloatRoundToOdd(double value) {
        float f = (float) value;
        if (Float.isFinite(f) && (double) f != value && !Double.isNaN(value)) {
            int bits = Float.floatToRawIntBits(f);
            if ((bits & 1) == 0) {
                // f was rounded; move it one ulp towards value so that its last bit is 1 (the odd neighbour).
                boolean towardsZero = Math.abs((double) f) > Math.abs(value);
                bits += towardsZero ? -1 : 1;
                f = Float.intBitsToFloat(bits);
            }
        }
        return f;
    }

    /** IEEE binary16 bits of {@code value}, round to nearest even. */
    static short toF16Bits(double value) {
        return Float.floatToFloat16(toFloatRoundToOdd(value));
    }

    /** bfloat16 bits (the upper half of a binary32) of {@code value}, round to nearest even; NaN stays NaN. */
    static short toBf16Bits(double value) {
        return floatToBf16Bits(toFloatRoundToOdd(value));
    }

    /** bfloat16 bits of a {@code float}, round to nearest even; NaN becomes a quiet NaN with the same sign. */
    static short floatToBf16Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** The {@code float} a bfloat16 bit pattern stands for. */
    static float bf16BitsToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }
}
