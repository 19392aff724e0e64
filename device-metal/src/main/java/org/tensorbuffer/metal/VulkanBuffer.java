package org.tensorbuffer.metal;

/**
 * The backend object behind a {@link org.tensorbuffer.device.DeviceBuffer} of the Vulkan device (its
 * {@code handle()}): one {@code VkBuffer} with its VMA allocation. A root {@code DeviceBuffer} has address 0 and every
 * slice of it shares this object, its address being the slice's byte offset into the {@code VkBuffer}.
 *
 * <p>Guarded by the owning device's lock: {@link #lastUse} is the serial of the last command batch that referenced
 * the buffer, so that a free or a host write can wait for (or defer past) the work still using it.
 */
final class VulkanBuffer {
    /** {@code VkBuffer}, or 0 for a zero-byte buffer. */
    final long buffer;
    /** {@code VmaAllocation}, or 0 for a zero-byte buffer. */
    final long allocation;
    /** Host address of the mapped memory, or 0 when the memory is device-local only. */
    final long mapped;
    /** Size of the VkBuffer in bytes (the request rounded up to 16). */
    final long size;
    /** Whether host writes need {@code vmaFlushAllocation} and reads {@code vmaInvalidateAllocation}. */
    final boolean nonCoherent;
    /** Serial of the last batch that used the buffer (0 = none). */
    long lastUse;
    /** Set once the buffer has been freed (its destruction may be deferred until {@link #lastUse} completes). */
    boolean freed;
    /** Open captured steps ({@link VulkanStepGraph}) that use this buffer; while > 0 a free is held back. */
    int pins;
    /** The byte size of a free held back by {@link #pins} (-1: none). */
    long heldFreeBytes = -1;
    /** The cached descriptor sets that bind this buffer ({@link DescriptorCache}), or {@code null} if none. */
    java.util.List<DescriptorCache.Key> descriptorKeys;

    VulkanBuffer(long buffer, long allocation, long mapped, long size, boolean nonCoherent) {
        this.buffer = buffer;
        this.allocation = allocation;
        this.mapped = mapped;
        this.size = size;
        this.nonCoherent = nonCoherent;
    }

    @Override
    public String toString() {
        return "VkBuffer 0x" + Long.toHexString(buffer) + " (" + size + " B" + (mapped != 0 ? ", host-visible" : "")
                + ")";
    }
}
