package org.tensorbuffer.cuda;

/**
 * The stream-ordered memory-pool calls of the driver that JCuda 12.6 does not bind ({@code cuda.h} signatures;
 * handles as raw 64-bit values). {@link DriverLibrary} binds them with FFM; tests use a recording fake. Each method
 * throws {@link CudaException} naming the call when the driver returns an error. Thread-safe.
 */
interface MemPoolDriver {
    /** {@code cuDeviceGetDefaultMemPool}: the device's default pool (the one {@code cuMemAllocAsync} uses). */
    long defaultMemPool(int device);

    /** {@code cuMemPoolSetAttribute} for a {@code cuuint64_t} attribute. */
    void setPoolAttribute(long pool, int attribute, long value);

    /** {@code cuMemPoolGetAttribute} for a {@code cuuint64_t} attribute. */
    long poolAttribute(long pool, int attribute);

    /** {@code cuMemPoolTrimTo(pool, keepBytes)}. */
    void trimPool(long pool, long keepBytes);
}
