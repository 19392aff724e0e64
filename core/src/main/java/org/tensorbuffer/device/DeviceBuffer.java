package org.tensorbuffer.device;

/**
 * A raw block of device memory as a backend returned it from {@link Device#allocate(long, long)}, or a slice of one.
 *
 * <p>{@link #address()} is backend-defined: a native address for the CPU, a {@code CUdeviceptr} for CUDA, and the
 * byte offset into the backend's {@link #handle()} object (a {@code VkBuffer}) for Vulkan. In every backend the
 * memory of a slice at offset {@code o} is at {@code address() + o} of the same {@link #handle()}, which is what
 * lets the pools and the planner carve one allocation into many without knowing the backend.
 *
 * <p>Instances are immutable and thread-safe; the memory they describe is not synchronised.
 *
 * @param device   the device that owns the memory
 * @param address  backend-defined address of byte 0 (see above)
 * @param byteSize size in bytes
 * @param handle   backend object behind the memory (may be {@code null})
 * @param root     the buffer this is a slice of, or {@code null} for a buffer the device allocated; only roots are
 *                 passed to {@link Device#free(DeviceBuffer)}
 */
public record DeviceBuffer(Device device, long address, long byteSize, Object handle, DeviceBuffer root) {

    /** A root buffer, as a backend creates it in {@code allocate}. */
    public DeviceBuffer(Device device, long address, long byteSize, Object handle) {
        this(device, address, byteSize, handle, null);
    }

    /**
     * A view of {@code size} bytes starting {@code offset} bytes into this buffer; it shares the memory and must not
     * be freed.
     *
     * @throws IndexOutOfBoundsException if the range is not inside this buffer
     */
    public DeviceBuffer slice(long offset, long size) {
        if (offset < 0 || size < 0 || offset + size > byteSize) {
            throw new IndexOutOfBoundsException("slice [" + offset + ", " + (offset + size) + ") of a buffer of "
                    + byteSize + " bytes");
        }
        return new DeviceBuffer(device, address + offset, size, handle, root == null ? this : root);
    }

    /** Whether this buffer was allocated by the device (and so is freed with it) rather than sliced. */
    public boolean isRoot() {
        return root == null;
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + device.id() + ", 0x" + Long.toHexString(address) + ", " + byteSize + " B]";
    }
}
