package org.tensorbuffer.device;

import java.util.List;

/**
 * Service-provider interface of a backend, found with {@link java.util.ServiceLoader} (list the implementation in
 * {@code META-INF/services/org.tensorbuffer.device.DeviceProvider}).
 *
 * <p>Implementations must be cheap to construct and must not touch native libraries in their constructor or static
 * initialisers: a missing driver is reported by {@link #probe()} as an unavailable {@link DeviceStatus}, never by an
 * exception or an {@link Error} escaping class loading.
 */
public interface DeviceProvider {
    /** Backend name, e.g. {@code cpu}, {@code cuda}, {@code vulkan}. */
    String name();

    /**
     * Looks for devices. Never throws: every failure (missing library, no GPU, driver too old) becomes an
     * unavailable status whose reason says what is missing.
     *
     * @return one status per device found, or one unavailable status for the backend
     */
    List<DeviceStatus> probe();

    /**
     * Opens the device with the given id (one that {@link #probe()} listed as available).
     *
     * @throws DeviceUnavailableException if it cannot be opened
     */
    Device open(String id);
}
