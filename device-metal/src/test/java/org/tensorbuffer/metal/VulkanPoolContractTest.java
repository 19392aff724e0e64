package org.tensorbuffer.metal;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.memory.PoolContractTest;

/** The shared pool and TensorBuffer contract on the Vulkan device (skipped without a Vulkan driver). */
class VulkanPoolContractTest extends PoolContractTest {
    @Override
    protected Device device() {
        return VulkanTestDevice.get();
    }
}
