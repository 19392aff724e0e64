package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * What the Vulkan kernels check beyond core's kernel-conformance suite ({@link VulkanKernelConformanceTest}):
 * operand ranges, element alignment of offsets and buffers used after they were freed.
 */
class VulkanKernelsTest {

    @Test
    void badArgumentsAreRejected() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer b = d.allocate(64, 64);
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 0, b, 0, 17, 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 2, b, 0, 1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of the element size");
        assertThatThrownBy(() -> d.kernels().argmax(DType.F32, b, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        d.free(b);
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 0, b, 0, 1, 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("after it was freed");
    }
}
