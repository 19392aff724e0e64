package org.tensorbuffer.metal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceProvider;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.DeviceUnavailableException;

/**
 * The {@code vulkan} backend: one device, id {@code vulkan}, on the best compute-capable Vulkan device; when the
 * driver is MoltenVK (macOS) the same device is also listed as {@code metal} (kind {@link DeviceKind#METAL}).
 *
 * <p>{@link #probe()} opens the device once (instance, logical device, VMA) to report its facts, heap budgets
 * included, and caches the result; without a Vulkan loader or driver it reports {@code vulkan} unavailable with the
 * reason and never throws. Thread-safe.
 */
public final class VulkanDeviceProvider implements DeviceProvider {
    private static volatile List<DeviceStatus> cached;

    @Override
    public String name() {
        return "vulkan";
    }

    @Override
    public List<DeviceStatus> probe() {
        List<DeviceStatus> c = cached;
        if (c != null) {
            return c;
        }
        synchronized (VulkanDeviceProvider.class) {
            if (cached == null) {
                cached = doProbe();
            }
            return cached;
        }
    }

    private static List<DeviceStatus> doProbe() {
        try (VulkanDevice d = new VulkanDevice("vulkan", DeviceKind.VULKAN)) {
            Map<String, String> props = new LinkedHashMap<>(d.properties());
            props.remove("liveBuffers");
            props.remove("liveBytes");
            props.remove("submits");
            props.remove("pipelines");
            List<DeviceStatus> out = new ArrayList<>();
            out.add(DeviceStatus.available("vulkan", "vulkan", props));
            if (d.facts().moltenVk()) {
                out.add(DeviceStatus.available("metal", "vulkan", props));
            }
            return List.copyOf(out);
        } catch (Throwable e) {
            String reason = e.getMessage() == null ? e.toString() : e.getMessage();
            return List.of(DeviceStatus.unavailable("vulkan", "vulkan", reason));
        }
    }

    @Override
    public Device open(String id) {
        List<DeviceStatus> statuses = probe();
        for (DeviceStatus s : statuses) {
            if (s.id().equals(id)) {
                if (!s.available()) {
                    throw new DeviceUnavailableException("device '" + id + "' is unavailable: " + s.reason());
                }
                return new VulkanDevice(id, id.equals("metal") ? DeviceKind.METAL : DeviceKind.VULKAN);
            }
        }
        throw new DeviceUnavailableException("the vulkan backend has no device '" + id + "'"
                + (statuses.get(0).available() ? "" : ": " + statuses.get(0).reason()));
    }
}
