package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.util.vma.Vma.VMA_ALLOCATION_CREATE_HOST_ACCESS_RANDOM_BIT;
import static org.lwjgl.util.vma.Vma.VMA_ALLOCATION_CREATE_MAPPED_BIT;
import static org.lwjgl.util.vma.Vma.VMA_MEMORY_USAGE_AUTO;
import static org.lwjgl.util.vma.Vma.VMA_MEMORY_USAGE_AUTO_PREFER_DEVICE;
import static org.lwjgl.util.vma.Vma.vmaCreateBuffer;
import static org.lwjgl.util.vma.Vma.vmaDestroyBuffer;
import static org.lwjgl.util.vma.Vma.vmaFindMemoryTypeIndexForBufferInfo;
import static org.lwjgl.vulkan.VK10.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
import static org.lwjgl.vulkan.VK10.VK_BUFFER_USAGE_TRANSFER_DST_BIT;
import static org.lwjgl.vulkan.VK10.VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
import static org.lwjgl.vulkan.VK10.VK_SHARING_MODE_EXCLUSIVE;
import static org.lwjgl.vulkan.VK10.vkAllocateMemory;
import static org.lwjgl.vulkan.VK10.vkFreeMemory;

import java.nio.IntBuffer;
import java.nio.LongBuffer;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.util.vma.VmaAllocationCreateInfo;
import org.lwjgl.vulkan.VkBufferCreateInfo;
import org.lwjgl.vulkan.VkMemoryAllocateInfo;
import org.tensorbuffer.device.Device;

/**
 * Diagnostics hook for allocation benchmarks ({@code org.tensorbuffer.bench.gpu.VulkanAllocBench}): the two raw
 * allocation paths under a {@link VulkanDevice}'s pool, without going through the device's bookkeeping.
 * <ul>
 *   <li>{@link #vmaCreateDestroy}: {@code vmaCreateBuffer} + {@code vmaDestroyBuffer} of a storage buffer with the
 *       device's allocation settings (what {@link VulkanDevice#allocate} does: VMA suballocates its memory blocks);</li>
 *   <li>{@link #allocateFree}: {@code vkAllocateMemory} + {@code vkFreeMemory} of the memory type VMA picks for such a
 *       buffer (a driver allocation, no buffer object).</li>
 * </ul>
 * Not part of the tensor API; thread-safe as far as the Vulkan driver and VMA are (each call uses its own stack
 * memory).
 */
public final class VulkanAllocProbe {
    private final VulkanDevice device;

    private VulkanAllocProbe(VulkanDevice device) {
        this.device = device;
    }

    /**
     * The probe of {@code device}.
     *
     * @throws IllegalArgumentException if {@code device} is not a Vulkan (or Metal-through-Vulkan) device
     */
    public static VulkanAllocProbe of(Device device) {
        if (!(device instanceof VulkanDevice v)) {
            throw new IllegalArgumentException(device.id() + " is not a Vulkan device");
        }
        return new VulkanAllocProbe(v);
    }

    /** Creates and destroys one VMA storage buffer of {@code bytes} bytes. */
    public void vmaCreateDestroy(long bytes) {
        try (MemoryStack st = stackPush()) {
            LongBuffer pb = st.mallocLong(1);
            PointerBuffer pa = st.mallocPointer(1);
            VulkanDevice.check(vmaCreateBuffer(device.vmaAllocator(), bufferInfo(st, bytes), allocInfo(st), pb, pa,
                    null), "vmaCreateBuffer");
            vmaDestroyBuffer(device.vmaAllocator(), pb.get(0), pa.get(0));
        }
    }

    /** The memory type index VMA picks for the device's buffers of {@code bytes} bytes. */
    public int memoryType(long bytes) {
        try (MemoryStack st = stackPush()) {
            IntBuffer type = st.mallocInt(1);
            VulkanDevice.check(vmaFindMemoryTypeIndexForBufferInfo(device.vmaAllocator(), bufferInfo(st, bytes),
                    allocInfo(st), type), "vmaFindMemoryTypeIndexForBufferInfo");
            return type.get(0);
        }
    }

    /** Allocates and frees {@code bytes} bytes of device memory of type {@code memoryType} with the driver. */
    public void allocateFree(int memoryType, long bytes) {
        try (MemoryStack st = stackPush()) {
            LongBuffer pm = st.mallocLong(1);
            VulkanDevice.check(vkAllocateMemory(device.vkDevice(), VkMemoryAllocateInfo.calloc(st).sType$Default()
                    .allocationSize(bytes).memoryTypeIndex(memoryType), null, pm), "vkAllocateMemory");
            vkFreeMemory(device.vkDevice(), pm.get(0), null);
        }
    }

    private static VkBufferCreateInfo bufferInfo(MemoryStack st, long size) {
        return VkBufferCreateInfo.calloc(st).sType$Default().size(size)
                .usage(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                        | VK_BUFFER_USAGE_TRANSFER_DST_BIT)
                .sharingMode(VK_SHARING_MODE_EXCLUSIVE);
    }

    private VmaAllocationCreateInfo allocInfo(MemoryStack st) {
        boolean mapped = device.hostVisibleBuffers();
        return VmaAllocationCreateInfo.calloc(st)
                .usage(mapped ? VMA_MEMORY_USAGE_AUTO : VMA_MEMORY_USAGE_AUTO_PREFER_DEVICE)
                .flags(mapped ? VMA_ALLOCATION_CREATE_HOST_ACCESS_RANDOM_BIT | VMA_ALLOCATION_CREATE_MAPPED_BIT : 0);
    }
}
