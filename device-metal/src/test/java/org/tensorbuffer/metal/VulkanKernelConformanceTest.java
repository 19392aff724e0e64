package org.tensorbuffer.metal;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.KernelConformanceTest;

/**
 * Core's kernel-conformance suite on the Vulkan device shared by this module's tests (skipped without a Vulkan
 * driver; F64 skipped where the device has no {@code shaderFloat64}).
 */
class VulkanKernelConformanceTest extends KernelConformanceTest {
    @Override
    protected Device openDevice() {
        return VulkanTestDevice.get();
    }

    @Override
    protected void closeDevice(Device d) {
        // shared with the module's other tests
    }

    @Override
    protected boolean supportsFloat64(Device d) {
        return ((VulkanDevice) d).supportsFloat64();
    }
}
