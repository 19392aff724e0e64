package org.tensorbuffer.observe;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.RawAllocator;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.TensorBufferStats;

/**
 * Allocator statistics as a flat map with stable keys, in the style of PyTorch's {@code torch.cuda.memory_stats()}
 * (key names follow it where the concept is the same). Values are bytes or counts. The map iterates in a fixed order.
 *
 * <p>Keys of the form {@code <stat>.<component>.<figure>}; {@code <component>} is {@code all} (the sum), or for a
 * {@link TensorContext} also {@code pool} (its {@link BufferPool}), {@code tensor_buffer} (its {@link TensorBuffer})
 * and {@code raw} (its {@link RawAllocator}, strategy NONE), as torch splits {@code small_pool}/{@code large_pool}.
 *
 * <table>
 *   <caption>memoryStats keys</caption>
 *   <tr><th>key</th><th>meaning</th></tr>
 *   <tr><td>{@code allocated_bytes.X.current}</td><td>live bytes: blocks handed out and not yet released (block
 *       bytes, i.e. size-class bytes for the pool)</td></tr>
 *   <tr><td>{@code allocated_bytes.X.peak}</td><td>high-water mark of the above (for {@code all}: the sum of the
 *       components' peaks, an upper bound)</td></tr>
 *   <tr><td>{@code active_bytes.X.current} / {@code .peak}</td><td>same as allocated (no block splitting, no pending
 *       stream frees); kept for torch compatibility</td></tr>
 *   <tr><td>{@code inactive_bytes.X.current}</td><td>cached bytes: reserved but not handed out</td></tr>
 *   <tr><td>{@code reserved_bytes.X.current} / {@code .peak}</td><td>bytes held from the device (live +
 *       cached), and its high-water mark</td></tr>
 *   <tr><td>{@code requests.X}</td><td>allocation requests (a TensorBuffer miss counts once, at the pool)</td></tr>
 *   <tr><td>{@code hits.X} / {@code misses.X}</td><td>requests served from a cache / needing a device allocation;
 *       {@code hits + misses == requests}</td></tr>
 *   <tr><td>{@code num_device_alloc.X} / {@code num_device_free.X}</td><td>raw device allocations / frees</td></tr>
 *   <tr><td>{@code num_evictions}</td><td>cached blocks freed for a budget, a cap or out of memory</td></tr>
 *   <tr><td>{@code num_alloc_retries}</td><td>device allocations retried after an out-of-memory error and emptying
 *       the cache</td></tr>
 *   <tr><td>{@code num_ooms}</td><td>requests that failed with an out-of-memory exception</td></tr>
 *   <tr><td>{@code learnable_bytes.current}</td><td>bytes of TensorBuffer learnable (weight) buffers</td></tr>
 *   <tr><td>{@code num_leaks_reported}</td><td>leak reports in this JVM ({@link LeakDetector#leakCount()})</td></tr>
 * </table>
 *
 * <p>Exactness is that of {@link PoolStats} (exact when the allocators are quiescent). Thread-safe.
 */
public final class MemoryStats {
    private MemoryStats() {
    }

    /** The statistics of a context's pool, TensorBuffer and raw allocator, with {@code all} their sum. */
    public static Map<String, Long> of(TensorContext ctx) {
        PoolStats p = ctx.pool().stats();
        TensorBufferStats t = ctx.tensorBuffer().stats();
        RawAllocator r = ctx.raw();
        Component pool = pool(p);
        Component tb = tensorBuffer(t);
        Component raw = new Component(r.liveBytes(), r.peakLiveBytes(), r.liveBytes(), r.peakLiveBytes(),
                r.rawAllocations(), 0, r.rawAllocations(), r.rawAllocations(), r.rawFrees());
        Component all = new Component(pool.live + tb.live + raw.live, pool.peakLive + tb.peakLive + raw.peakLive,
                pool.reserved + tb.reserved + raw.reserved, pool.peakReserved + tb.peakReserved + raw.peakReserved,
                pool.requests + tb.hits + raw.requests, pool.hits + tb.hits, pool.misses + raw.misses,
                pool.deviceAllocs + tb.deviceAllocs + raw.deviceAllocs,
                pool.deviceFrees + tb.deviceFrees + raw.deviceFrees);
        Map<String, Long> m = new LinkedHashMap<>();
        all.put(m, "all");
        pool.put(m, "pool");
        tb.put(m, "tensor_buffer");
        raw.put(m, "raw");
        m.put("num_evictions", p.evictions());
        m.put("num_alloc_retries", p.allocRetries());
        m.put("num_ooms", p.ooms());
        m.put("learnable_bytes.current", t.learnableBytes());
        m.put("num_leaks_reported", LeakDetector.leakCount());
        return m;
    }

    /** The statistics of one pool under the {@code all} keys. */
    public static Map<String, Long> of(BufferPool pool) {
        PoolStats p = pool.stats();
        Map<String, Long> m = new LinkedHashMap<>();
        pool(p).put(m, "all");
        m.put("num_evictions", p.evictions());
        m.put("num_alloc_retries", p.allocRetries());
        m.put("num_ooms", p.ooms());
        return m;
    }

    /**
     * The statistics of one TensorBuffer under the {@code all} keys; here {@code requests}, {@code hits} and
     * {@code misses} count {@link TensorBuffer#take} calls (a miss is served by the fallback pool).
     */
    public static Map<String, Long> of(TensorBuffer tensorBuffer) {
        TensorBufferStats t = tensorBuffer.stats();
        Map<String, Long> m = new LinkedHashMap<>();
        new Component(t.liveBytes(), t.peakLiveBytes(), t.reservedBytes(), t.peakReservedBytes(), t.requests(),
                t.hits(), t.misses(), t.rawAllocations(), t.rawFrees()).put(m, "all");
        m.put("learnable_bytes.current", t.learnableBytes());
        return m;
    }

    private static Component pool(PoolStats p) {
        return new Component(p.liveBytes(), p.peakLiveBytes(), p.reservedBytes(), p.peakReservedBytes(),
                p.requests(), p.hits(), p.misses(), p.rawAllocations(), p.rawFrees());
    }

    /** In a context, TensorBuffer misses are counted by the pool, so only its hits are its own requests. */
    private static Component tensorBuffer(TensorBufferStats t) {
        return new Component(t.liveBytes(), t.peakLiveBytes(), t.reservedBytes(), t.peakReservedBytes(), t.hits(),
                t.hits(), 0, t.rawAllocations(), t.rawFrees());
    }

    private record Component(long live, long peakLive, long reserved, long peakReserved, long requests, long hits,
                             long misses, long deviceAllocs, long deviceFrees) {
        void put(Map<String, Long> m, String c) {
            m.put("allocated_bytes." + c + ".current", live);
            m.put("allocated_bytes." + c + ".peak", peakLive);
            m.put("active_bytes." + c + ".current", live);
            m.put("active_bytes." + c + ".peak", peakLive);
            m.put("inactive_bytes." + c + ".current", reserved - live);
            m.put("reserved_bytes." + c + ".current", reserved);
            m.put("reserved_bytes." + c + ".peak", peakReserved);
            m.put("requests." + c, requests);
            m.put("hits." + c, hits);
            m.put("misses." + c, misses);
            m.put("num_device_alloc." + c, deviceAllocs);
            m.put("num_device_free." + c, deviceFrees);
        }
    }
}
