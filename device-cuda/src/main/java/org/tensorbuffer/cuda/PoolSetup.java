package org.tensorbuffer.cuda;

import java.util.Locale;

/**
 * How a {@link CudaDevice} sets up raw allocation: the {@link AllocMode} and, in {@link AllocMode#ASYNC} mode, the
 * release threshold of the device's default memory pool (bytes the pool keeps cached after a synchronisation; -1
 * stands for {@code UINT64_MAX}, keep everything, as PyTorch's {@code cudaMallocAsync} backend sets it).
 *
 * @param mode             raw allocation mode
 * @param releaseThreshold release threshold in bytes, or -1 for unlimited; 0 in {@link AllocMode#SYNC} mode
 */
record PoolSetup(AllocMode mode, long releaseThreshold) {

    /**
     * The setup for {@code mode} with the threshold of the system property
     * {@value CudaDevice#RELEASE_THRESHOLD_PROPERTY} (unset, {@code -1} or {@code unlimited}: unlimited).
     *
     * @throws IllegalArgumentException naming the property and value if it is not {@code -1}, {@code unlimited} or a
     *                                  byte count {@code >= 0}
     */
    static PoolSetup of(AllocMode mode) {
        return mode == AllocMode.SYNC ? new PoolSetup(mode, 0)
                : new PoolSetup(mode, parseThreshold(System.getProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY)));
    }

    /** A threshold as the property spells it; see {@link #of}. */
    static long parseThreshold(String v) {
        if (v == null || v.isBlank()) {
            return -1;
        }
        String t = v.trim().toLowerCase(Locale.ROOT);
        if (t.equals("unlimited") || t.equals("-1")) {
            return -1;
        }
        try {
            long n = Long.parseLong(t);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(CudaDevice.RELEASE_THRESHOLD_PROPERTY + "=" + v
                + ": expected a byte count >= 0, -1 or unlimited");
    }

    /**
     * Applies the setup to GPU {@code device}: in {@link AllocMode#ASYNC} mode gets the default pool and sets its
     * release threshold ({@code CU_MEMPOOL_ATTR_RELEASE_THRESHOLD}); returns the pool, or 0 in
     * {@link AllocMode#SYNC} mode (no driver call).
     *
     * @throws CudaException if the driver refuses
     */
    long apply(MemPoolDriver driver, int device) {
        if (mode == AllocMode.SYNC) {
            return 0;
        }
        long pool = driver.defaultMemPool(device);
        driver.setPoolAttribute(pool, DriverLibrary.ATTR_RELEASE_THRESHOLD, releaseThreshold);
        return pool;
    }

    /** What {@code properties()} says under {@code allocation}. */
    String description() {
        return mode == AllocMode.SYNC ? "cuMemAlloc/cuMemFree"
                : "cuMemAllocAsync/cuMemFreeAsync on the default memory pool, release threshold "
                + (releaseThreshold == -1 ? "unlimited" : releaseThreshold + " B");
    }
}
