package org.tensorbuffer.device;

import java.util.Map;

/**
 * What {@link Devices#available()} says about one device or backend: whether it can be used and, if not, why.
 *
 * @param id         device id ({@code cpu}, {@code cuda:0}, {@code vulkan}, ...) or the backend name if it found none
 * @param backend    the provider's name
 * @param available  whether {@link Devices#get(String)} will return a working device
 * @param reason     why it is unavailable ({@code null} when available)
 * @param properties backend facts for the {@code devices} command (name, memory, GEMM in use, ...)
 */
public record DeviceStatus(String id, String backend, boolean available, String reason,
                           Map<String, String> properties) {

    /** An available device. */
    public static DeviceStatus available(String id, String backend, Map<String, String> properties) {
        return new DeviceStatus(id, backend, true, null, Map.copyOf(properties));
    }

    /** A backend that cannot run here, with the reason. */
    public static DeviceStatus unavailable(String id, String backend, String reason) {
        return new DeviceStatus(id, backend, false, reason, Map.of());
    }
}
