package org.tensorbuffer.cuda;

import java.util.Locale;

/**
 * How a {@link CudaDevice} gets raw memory from the driver.
 *
 * <p>Select it with the {@link CudaDevice} constructor, or for devices opened through
 * {@link org.tensorbuffer.device.Devices} with the system property {@value #PROPERTY} ({@code sync} or {@code async};
 * default {@code sync}).
 */
public enum AllocMode {
    /**
     * {@code cuMemAlloc}/{@code cuMemFree}: every allocation is a new driver allocation and every free returns it (and
     * {@code cuMemFree} waits for the device). The baseline the pools are measured against.
     */
    SYNC,
    /**
     * Stream-ordered {@code cuMemAllocAsync}/{@code cuMemFreeAsync} on the device's default memory pool (CUDA 11.2+),
     * whose release threshold is raised so that freed memory stays cached in the driver (as PyTorch's
     * {@code cudaMallocAsync} backend does).
     */
    ASYNC;

    /** System property that selects the mode of devices opened by the provider: {@code sync} or {@code async}. */
    public static final String PROPERTY = "tensorbuffer.cuda.alloc";

    /**
     * The mode the system property {@value #PROPERTY} names, {@link #SYNC} when it is unset.
     *
     * @throws IllegalArgumentException naming the value if it is neither {@code sync} nor {@code async}
     */
    public static AllocMode fromSystemProperty() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            return SYNC;
        }
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "sync" -> SYNC;
            case "async" -> ASYNC;
            default -> throw new IllegalArgumentException(PROPERTY + "=" + v + ": expected sync or async");
        };
    }
}
