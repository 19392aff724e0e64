package org.tensorbuffer.types;

/**
 * Element types a tensor can hold.
 *
 * <p>Every backend can allocate, fill and copy every type; the compute kernels ({@link
 * org.tensorbuffer.device.Kernels}) support {@link #F32} and {@link #F64} (and {@link #I32} where an op says so).
 * Sizes are in bytes per element; names follow NumPy ({@code float32}, ...), so that {@code .npy} headers and JSON
 * reports can use them directly.
 */
public enum DType {
    /** IEEE 754 binary32. */
    F32(4, "float32", "<f4"),
    /** IEEE 754 binary64. */
    F64(8, "float64", "<f8"),
    /** IEEE 754 binary16 (storage only). */
    F16(2, "float16", "<f2"),
    /** bfloat16: the upper half of a binary32 (storage only). */
    BF16(2, "bfloat16", "<V2"),
    /** Two's-complement 32-bit integer. */
    I32(4, "int32", "<i4"),
    /** Two's-complement 64-bit integer. */
    I64(8, "int64", "<i8");

    private final int byteSize;
    private final String displayName;
    private final String numpyDescr;

    DType(int byteSize, String displayName, String numpyDescr) {
        this.byteSize = byteSize;
        this.displayName = displayName;
        this.numpyDescr = numpyDescr;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** NumPy-style name, e.g. {@code float32}. */
    public String displayName() {
        return displayName;
    }

    /** NumPy array-interface type string (little endian), e.g. {@code <f4}. */
    public String numpyDescr() {
        return numpyDescr;
    }

    /** Whether the type is a floating-point type. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F64 || this == F16 || this == BF16;
    }

    /**
     * Looks a type up by its {@link #displayName()} or enum name, case-insensitively.
     *
     * @throws IllegalArgumentException naming {@code name} if no type matches
     */
    public static DType of(String name) {
        for (DType t : values()) {
            if (t.name().equalsIgnoreCase(name) || t.displayName.equalsIgnoreCase(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "'");
    }

    @Override
    public String toString() {
        return displayName;
    }
}
