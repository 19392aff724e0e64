package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.util.vma.Vma.*;
import static org.lwjgl.vulkan.VK10.*;

import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.Locale;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.util.vma.VmaAllocationCreateInfo;
import org.lwjgl.vulkan.VkBufferCreateInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkMemoryAllocateInfo;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;

/**
 * Benchmark of one allocate-and-free on the Vulkan device, three ways, per size:
 * <ol>
 *   <li>{@code pool}: {@link BufferPool#take} then {@link Block#close()} (a warm caching-allocator hit);</li>
 *   <li>{@code vma}: {@code vmaCreateBuffer} + {@code vmaDestroyBuffer} of a storage buffer (what
 *       {@link VulkanDevice#allocate} does: VMA suballocates its device-memory blocks);</li>
 *   <li>{@code raw}: {@code vkAllocateMemory} + {@code vkFreeMemory} of the same memory type (a driver allocation,
 *       no buffer object).</li>
 * </ol>
 * Prints ns/op (median of 5 timed rounds after a warm-up round) and the ratios vma/pool and raw/pool.
 *
 * <p>Usage: {@code java ... org.tensorbuffer.metal.VulkanAllocBench [roundMillis]} (default 200 ms per round).
 */
public final class VulkanAllocBench {
    private static final long[] SIZES = {256, 4 << 10, 64 << 10, 1 << 20, 16 << 20};

    private VulkanAllocBench() {
    }

    public static void main(String[] args) {
        long roundNanos = (args.length > 0 ? Long.parseLong(args[0]) : 200) * 1_000_000L;
        try (VulkanDevice d = new VulkanDevice("vulkan", DeviceKind.VULKAN);
             BufferPool pool = BufferPool.of(d)) {
            var p = d.properties();
            System.out.printf("device: %s (%s), driver %s %s, %s%n", p.get("name"), p.get("type"), p.get("driver"),
                    p.getOrDefault("driverInfo", ""), p.get("api"));
            System.out.printf("java %s, %d cpus, %s; round %d ms, median of 5%n", System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), System.getProperty("os.arch"), roundNanos / 1_000_000);
            System.out.printf(Locale.ROOT, "%10s %12s %12s %12s %10s %10s%n", "bytes", "pool ns/op", "vma ns/op",
                    "raw ns/op", "vma/pool", "raw/pool");
            for (long size : SIZES) {
                double pool1 = median(() -> time(roundNanos, () -> pool.take(size).close()));
                double vma = median(() -> time(roundNanos, () -> vmaCreateDestroy(d, size)));
                int type = memoryType(d, size);
                double raw = median(() -> time(roundNanos, () -> rawAllocFree(d.vkDevice(), type, size)));
                System.out.printf(Locale.ROOT, "%10d %12.1f %12.1f %12.1f %10.1f %10.1f%n", size, pool1, vma, raw,
                        vma / pool1, raw / pool1);
            }
        }
    }

    private interface Round {
        double run();
    }

    private static double median(Round r) {
        r.run(); // warm-up
        double[] v = new double[5];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.run();
        }
        java.util.Arrays.sort(v);
        return v[2];
    }

    /** ns per call of {@code op}, calling it in a loop for about {@code nanos}. */
    private static double time(long nanos, Runnable op) {
        long n = 0;
        long start = System.nanoTime();
        long end;
        do {
            for (int i = 0; i < 64; i++) {
                op.run();
            }
            n += 64;
            end = System.nanoTime();
        } while (end - start < nanos);
        return (end - start) / (double) n;
    }

    private static VkBufferCreateInfo bufferInfo(MemoryStack st, long size) {
        return VkBufferCreateInfo.calloc(st).sType$Default().size(size)
                .usage(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                        | VK_BUFFER_USAGE_TRANSFER_DST_BIT)
                .sharingMode(VK_SHARING_MODE_EXCLUSIVE);
    }

    private static VmaAllocationCreateInfo allocInfo(MemoryStack st, VulkanDevice d) {
        boolean mapped = d.hostVisibleBuffers();
        return VmaAllocationCreateInfo.calloc(st)
                .usage(mapped ? VMA_MEMORY_USAGE_AUTO : VMA_MEMORY_USAGE_AUTO_PREFER_DEVICE)
                .flags(mapped ? VMA_ALLOCATION_CREATE_HOST_ACCESS_RANDOM_BIT | VMA_ALLOCATION_CREATE_MAPPED_BIT : 0);
    }

    private static void vmaCreateDestroy(VulkanDevice d, long size) {
        try (MemoryStack st = stackPush()) {
            LongBuffer pb = st.mallocLong(1);
            PointerBuffer pa = st.mallocPointer(1);
            VulkanDevice.check(vmaCreateBuffer(d.vmaAllocator(), bufferInfo(st, size), allocInfo(st, d), pb, pa,
                    null), "vmaCreateBuffer");
            vmaDestroyBuffer(d.vmaAllocator(), pb.get(0), pa.get(0));
        }
    }

    /** The memory type VMA picks for the device's buffers of {@code size} bytes. */
    private static int memoryType(VulkanDevice d, long size) {
        try (MemoryStack st = stackPush()) {
            IntBuffer type = st.mallocInt(1);
            VulkanDevice.check(vmaFindMemoryTypeIndexForBufferInfo(d.vmaAllocator(), bufferInfo(st, size),
                    allocInfo(st, d), type), "vmaFindMemoryTypeIndexForBufferInfo");
            return type.get(0);
        }
    }

    private static void rawAllocFree(VkDevice device, int type, long size) {
        try (MemoryStack st = stackPush()) {
            LongBuffer pm = st.mallocLong(1);
            VulkanDevice.check(vkAllocateMemory(device, VkMemoryAllocateInfo.calloc(st).sType$Default()
                    .allocationSize(size).memoryTypeIndex(type), null, pm), "vkAllocateMemory");
            vkFreeMemory(device, pm.get(0), null);
        }
    }
}
