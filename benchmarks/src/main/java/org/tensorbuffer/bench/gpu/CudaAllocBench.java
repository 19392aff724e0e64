package org.tensorbuffer.bench.gpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tensorbuffer.cuda.AllocMode;
import org.tensorbuffer.cuda.CudaDevice;
import org.tensorbuffer.cuda.CudaDeviceProvider;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;

/**
 * Allocation microbenchmark on GPU 0: for sizes 256 B to 64 MiB (powers of 4), the host time of one allocate+free
 * pair by three methods, and their ratios:
 * <ul>
 *   <li>{@code pool}: {@link BufferPool#take} + {@link Block#close()} (a thread-cache hit after the first take);</li>
 *   <li>{@code cuMemAlloc}: {@code cuMemAlloc} + {@code cuMemFree} through a {@link AllocMode#SYNC} device;</li>
 *   <li>{@code cuMemAllocAsync}: {@code cuMemAllocAsync} + {@code cuMemFreeAsync} on the default memory pool (release
 *       threshold unlimited) through an {@link AllocMode#ASYNC} device, same stream.</li>
 * </ul>
 * Each measurement runs batches of back-to-back pairs for about {@code --millis} milliseconds after a warm-up and
 * reports the median batch's nanoseconds per pair; the device is synchronised between measurements, not inside
 * them (stream-ordered frees are cheap on the host by design, which is what a caller sees).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp ... org.tensorbuffer.bench.gpu.CudaAllocBench
 * [--millis N] [--json FILE]}. Targets (issue 9): pool ≤ 200 ns, ≥ 100x faster than cuMemAlloc+cuMemFree, ≥ 5x faster
 * than the async pool. Prints "CUDA unavailable: reason" and exits with status 2 without a GPU.
 */
public final class CudaAllocBench {
    private static final int BATCHES = 7;

    private CudaAllocBench() {
    }

    /** One row of results: a size and the ns per allocate+free pair of each method. */
    record Row(long bytes, double poolNs, double syncNs, double asyncNs) {
    }

    /** An allocate+free pair to time. */
    @FunctionalInterface
    private interface Pair {
        void run();
    }

    public static void main(String[] args) {
        long millis = 300;
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--millis" -> millis = Long.parseLong(args[++i]);
                case "--json" -> json = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: CudaAllocBench [--millis N] [--json FILE]");
                    System.exit(64);
                }
            }
        }
        String reason = new CudaDeviceProvider().unavailableReason();
        if (reason != null) {
            System.out.println("CUDA unavailable: " + reason);
            System.exit(2);
        }
        List<Row> rows = new ArrayList<>();
        String gpu;
        try (CudaDevice sync = new CudaDevice(0, AllocMode.SYNC);
             CudaDevice async = new CudaDevice(0, AllocMode.ASYNC);
             BufferPool pool = BufferPool.builder(sync).name("bench").maxCachedBytes(1L << 30).build()) {
            gpu = sync.name() + ", " + sync.properties().get("driver");
            System.out.printf(Locale.ROOT, "GPU: %s%n%12s %14s %16s %20s %12s %12s%n", gpu, "bytes", "pool ns",
                    "cuMemAlloc ns", "cuMemAllocAsync ns", "sync/pool", "async/pool");
            for (long bytes = 256; bytes <= 64L << 20; bytes *= 4) {
                long size = bytes;
                double poolNs = measure(() -> pool.take(size).close(), millis);
                sync.synchronize();
                double syncNs = measure(() -> sync.free(sync.allocate(size, 256)), millis);
                sync.synchronize();
                double asyncNs = measure(() -> {
                    DeviceBuffer b = async.allocate(size, 256);
                    async.free(b);
                }, millis);
                async.synchronize();
                Row r = new Row(bytes, poolNs, syncNs, asyncNs);
                rows.add(r);
                System.out.printf(Locale.ROOT, "%12d %14.1f %16.1f %20.1f %12.1f %12.1f%n", bytes, poolNs, syncNs,
                        asyncNs, syncNs / poolNs, asyncNs / poolNs);
            }
            long[] reserved = async.memPoolReservedBytes();
            System.out.printf(Locale.ROOT, "driver pool reserved now %d B, high %d B%n", reserved[0], reserved[1]);
            async.trimMemPool();
        }
        double worstPool = rows.stream().mapToDouble(Row::poolNs).max().orElse(Double.NaN);
        double minSyncRatio = rows.stream().mapToDouble(r -> r.syncNs / r.poolNs).min().orElse(Double.NaN);
        double minAsyncRatio = rows.stream().mapToDouble(r -> r.asyncNs / r.poolNs).min().orElse(Double.NaN);
        System.out.printf(Locale.ROOT, "worst pool pair %.1f ns (target <= 200); min cuMemAlloc/pool %.1fx (target >= "
                + "100); min async/pool %.1fx (target >= 5)%n", worstPool, minSyncRatio, minAsyncRatio);
        if (json != null) {
            writeJson(json, gpu, rows, worstPool, minSyncRatio, minAsyncRatio);
        }
    }

    /** Median over {@value #BATCHES} batches of the ns per pair, batches sized to take about {@code millis} in all. */
    private static double measure(Pair pair, long millis) {
        for (int i = 0; i < 20; i++) {
            pair.run(); // warm-up: JIT, the pool's first miss, the driver pool's first growth
        }
        long t0 = System.nanoTime();
        int calib = 0;
        while (System.nanoTime() - t0 < 5_000_000L && calib < 100_000) {
            pair.run();
            calib++;
        }
        double perPair = (System.nanoTime() - t0) / (double) calib;
        long perBatch = Math.max(5, (long) (millis * 1e6 / BATCHES / perPair));
        double[] ns = new double[BATCHES];
        for (int b = 0; b < BATCHES; b++) {
            long s = System.nanoTime();
            for (long i = 0; i < perBatch; i++) {
                pair.run();
            }
            ns[b] = (System.nanoTime() - s) / (double) perBatch;
        }
        Arrays.sort(ns);
        return ns[BATCHES / 2];
    }

    private static void writeJson(Path file, String gpu, List<Row> rows, double worstPool, double minSync,
                                  double minAsync) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\n  \"gpu\": \"").append(gpu.replace("\"", "'")).append("\",\n  \"unit\": \"ns per allocate+free\",")
                .append("\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            sb.append(String.format(Locale.ROOT, "    {\"bytes\": %d, \"pool_ns\": %.1f, \"cuMemAlloc_ns\": %.1f, "
                            + "\"cuMemAllocAsync_ns\": %.1f, \"cuMemAlloc_over_pool\": %.2f, "
                            + "\"async_over_pool\": %.2f}%s%n", r.bytes, r.poolNs, r.syncNs, r.asyncNs,
                    r.syncNs / r.poolNs, r.asyncNs / r.poolNs, i + 1 < rows.size() ? "," : ""));
        }
        sb.append(String.format(Locale.ROOT, "  ],\n  \"worst_pool_ns\": %.1f,\n  \"min_cuMemAlloc_over_pool\": %.2f,"
                + "\n  \"min_async_over_pool\": %.2f\n}%n", worstPool, minSync, minAsync));
        try {
            Files.writeString(file, sb.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
