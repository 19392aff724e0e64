package org.tensorbuffer.metal;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.tensorbuffer.device.DeviceStatus;

/** The Vulkan device shared by the tests of this module, opened once; tests skip with the reason without a driver. */
final class VulkanTestDevice {
    private static VulkanDevice device;
    private static String reason;

    private VulkanTestDevice() {
    }

    /** The shared device; skips the calling test (with the probe's reason) where Vulkan is unavailable. */
    static synchronized VulkanDevice get() {
        if (device == null && reason == null) {
            DeviceStatus s = new VulkanDeviceProvider().probe().get(0);
            if (s.available()) {
                device = (VulkanDevice) new VulkanDeviceProvider().open("vulkan");
            } else {
                reason = s.reason();
            }
        }
        assumeTrue(device != null, () -> "Vulkan unavailable: " + reason);
        return device;
    }
}
