package org.tensorbuffer.bench.gpu;

import java.util.Locale;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.metal.VulkanAllocProbe;
import org.tensorbuffer.metal.VulkanDevice;

/**
 * Benchmark of one allocate-and-free on the Vulkan device, three ways, per size:
 * <ol>
 *   <li>{@code pool}: {@link BufferPool#take} then {@link Block#close()} (a warm caching-allocator hit);</li>
 *   <li>{@code vma}: {@code vmaCreateBuffer} + {@code vmaDestroyBuffer} of a storage buffer (what
 *       {@code VulkanDevice.allocate} does: VMA suballocates its device-memory blocks);</li>
 *   <li>{@code raw}: {@code vkAllocateMemory} + {@code vkFreeMemory} of the same memory type (a driver allocation,
 *       no buffer object).</li>
 * </ol>
 * Prints ns/op (median of 5 timed rounds after a warm-up round) and the ratios vma/pool and raw/pool.
 *
 * <p>Usage: {@code java ... org.tensorbuffer.bench.gpu.VulkanAllocBench [roundMillis]} (default 200 ms per round).
 */
public final class VulkanAllocBench {
    private static final long[] SIZES = {256, 4 << 10, 64 << 10, 1 << 20, 16 << 20};

    private VulkanAllocBench() {
    }

    public static void main(String[] args) {
        long roundNanos = (args.length > 0 ? Long.parseLong(args[0]) : 200) * 1_000_000L;
        try (VulkanDevice d = new VulkanDevice("vulkan", DeviceKind.VULKAN);
             BufferPool pool = BufferPool.of(d)) {
            VulkanAllocProbe probe = VulkanAllocProbe.of(d);
            var p = d.properties();
            System.out.printf("device: %s (%s), driver %s %s, %s%n", p.get("name"), p.get("type"), p.get("driver"),
                    p.getOrDefault("driverInfo", ""), p.get("api"));
            System.out.printf("java %s, %d cpus, %s; round %d ms, median of 5%n", System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), System.getProperty("os.arch"), roundNanos / 1_000_000);
            System.out.printf(Locale.ROOT, "%10s %12s %12s %12s %10s %10s%n", "bytes", "pool ns/op", "vma ns/op",
                    "raw ns/op", "vma/pool", "raw/pool");
            for (long size : SIZES) {
                double pool1 = median(() -> time(roundNanos, () -> pool.take(size).close()));
                double vma = median(() -> time(roundNanos, () -> probe.vmaCreateDestroy(size)));
                int type = probe.memoryType(size);
                double raw = median(() -> time(roundNanos, () -> probe.allocateFree(type, size)));
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
}
