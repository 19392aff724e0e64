package org.tensorbuffer.observe;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.RawAllocatorMetric;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.plan.PlanStats;

/**
 * Allocator statistics as a flat map under the keys, and with the meanings, of PyTorch's
 * {@code torch.cuda.memory_stats()} ({@code torch/cuda/memory.py}; the counters of {@code DeviceStats} in
 * {@code c10/cuda/CUDACachingAllocator.cpp}), followed by this project's own figures under {@code tensorbuffer.*}.
 * Values are bytes or counts; the map iterates in a fixed order.
 *
 * <p>For a context ({@link #of(MemorySource)}), the torch keys come from its {@link MemoryCounters}:
 * {@code <stat>.<pool>.<figure>} for each stat of {@link MemoryCounters#STATS}, pool {@code all}, {@code small_pool}
 * (blocks of at most 1 MiB) or {@code large_pool}, figure {@code current}, {@code peak} (true high-water mark over the
 * context), {@code allocated} and {@code freed} (totals), as in torch:
 * <ul>
 *   <li>{@code allocation}: tensor allocations (blocks handed to tensors); {@code active}: the same (no stream
 *       frees are ever pending);</li>
 *   <li>{@code segment}: device allocations (torch's {@code cudaMalloc} calls) by the pool, the TensorBuffer, the raw
 *       allocator and the planner's arenas;</li>
 *   <li>{@code allocated_bytes}, {@code active_bytes}: block bytes of the tensors' blocks (size-class bytes for the
 *       pool, torch's rounded sizes); {@code requested_bytes}: the bytes the tensors asked for;</li>
 *   <li>{@code reserved_bytes}: bytes of the device allocations (live and cached);</li>
 *   <li>{@code inactive_split}, {@code inactive_split_bytes}: always 0, blocks are never split.</li>
 * </ul>
 * then {@code num_alloc_retries}, {@code num_ooms}, {@code num_sync_all_streams} (0), {@code num_device_alloc},
 * {@code num_device_free}, and the {@code tensorbuffer.*} extras (per-allocator figures, hits and misses, evictions,
 * learnable bytes, the planner, leak reports). docs/observability.md lists every key with its torch counterpart.
 *
 * <p>For a lone {@link BufferPool} or {@link TensorBuffer} the map holds the torch keys its own statistics support
 * ({@code allocated_bytes.all.*}, {@code reserved_bytes.all.*}, {@code segment.all.*}, ...) and its
 * {@code tensorbuffer.*} figures. Exactness is that of {@link PoolStats} (exact when the allocators are quiescent).
 * Thread-safe.
 */
public final class MemoryStats {
    private MemoryStats() {
    }

    /** The statistics of a context (a {@code TensorContext}): torch's keys, then {@code tensorbuffer.*}. */
    public static Map<String, Long> of(MemorySource ctx) {
        PoolStats p = ctx.pool().stats();
        TensorBufferStats t = ctx.tensorBuffer().stats();
        RawAllocatorMetric r = ctx.raw();
        PlanStats plan = ctx.planner().stats();
        MemoryCounters c = ctx.memoryCounters();
        Map<String, Long> m = new LinkedHashMap<>(c.snapshot());
        m.put("num_alloc_retries", p.allocRetries());
        m.put("num_ooms", p.ooms());
        m.put("num_sync_all_streams", 0L);
        m.put("num_device_alloc", c.get("segment", "all", "allocated"));
        m.put("num_device_free", c.get("segment", "all", "freed"));
        pool(m, p);
        tensorBuffer(m, t);
        m.put("tensorbuffer.raw.allocated_bytes.current", r.liveBytes());
        m.put("tensorbuffer.raw.allocated_bytes.peak", r.peakLiveBytes());
        m.put("tensorbuffer.raw.num_device_alloc", r.rawAllocations());
        m.put("tensorbuffer.raw.num_device_free", r.rawFrees());
        m.put("tensorbuffer.planner.arena_bytes", plan.arenaBytes());
        m.put("tensorbuffer.planner.num_arena_alloc", plan.arenaAllocations());
        m.put("tensorbuffer.planner.planned_allocations", plan.plannedAllocations());
        m.put("tensorbuffer.planner.fallback_allocations", plan.fallbackAllocations());
        m.put("tensorbuffer.num_leaks_reported", LeakDetector.leakCount());
        return m;
    }

    /** The statistics of one pool: the torch keys its {@link PoolStats} support, then {@code tensorbuffer.pool.*}. */
    public static Map<String, Long> of(BufferPool pool) {
        PoolStats p = pool.stats();
        Map<String, Long> m = new LinkedHashMap<>();
        torchSubset(m, p.liveBytes(), p.peakLiveBytes(), p.reservedBytes(), p.peakReservedBytes(), p.rawAllocations(),
                p.rawFrees());
        m.put("num_alloc_retries", p.allocRetries());
        m.put("num_ooms", p.ooms());
        m.put("num_device_alloc", p.rawAllocations());
        m.put("num_device_free", p.rawFrees());
        pool(m, p);
        return m;
    }

    /**
     * The statistics of one TensorBuffer: the torch keys its {@link TensorBufferStats} support, then
     * {@code tensorbuffer.tensor_buffer.*}, whose {@code requests}, {@code hits} and {@code misses} count
     * {@link TensorBuffer#take} calls (a miss is served by the fallback pool).
     */
    public static Map<String, Long> of(TensorBuffer tensorBuffer) {
        TensorBufferStats t = tensorBuffer.stats();
        Map<String, Long> m = new LinkedHashMap<>();
        torchSubset(m, t.liveBytes(), t.peakLiveBytes(), t.reservedBytes(), t.peakReservedBytes(), t.rawAllocations(),
                t.rawFrees());
        m.put("num_device_alloc", t.rawAllocations());
        m.put("num_device_free", t.rawFrees());
        tensorBuffer(m, t);
        return m;
    }

    private static void torchSubset(Map<String, Long> m, long live, long peakLive, long reserved, long peakReserved,
                                    long deviceAllocs, long deviceFrees) {
        m.put("segment.all.current", deviceAllocs - deviceFrees);
        m.put("segment.all.allocated", deviceAllocs);
        m.put("segment.all.freed", deviceFrees);
        m.put("allocated_bytes.all.current", live);
        m.put("allocated_bytes.all.peak", peakLive);
        m.put("reserved_bytes.all.current", reserved);
        m.put("reserved_bytes.all.peak", peakReserved);
        m.put("active_bytes.all.current", live);
        m.put("active_bytes.all.peak", peakLive);
        m.put("inactive_split_bytes.all.current", 0L);
    }

    private static void pool(Map<String, Long> m, PoolStats p) {
        String k = "tensorbuffer.pool.";
        m.put(k + "requests", p.requests());
        m.put(k + "hits", p.hits());
        m.put(k + "misses", p.misses());
        m.put(k + "allocated_bytes.current", p.liveBytes());
        m.put(k + "allocated_bytes.peak", p.peakLiveBytes());
        m.put(k + "cached_bytes.current", p.cachedBytes());
        m.put(k + "reserved_bytes.current", p.reservedBytes());
        m.put(k + "reserved_bytes.peak", p.peakReservedBytes());
        m.put(k + "num_device_alloc", p.rawAllocations());
        m.put(k + "num_device_free", p.rawFrees());
        m.put(k + "num_evictions", p.evictions());
        m.put(k + "budget_bytes", p.budgetBytes());
    }

    private static void tensorBuffer(Map<String, Long> m, TensorBufferStats t) {
        String k = "tensorbuffer.tensor_buffer.";
        m.put(k + "requests", t.requests());
        m.put(k + "hits", t.hits());
        m.put(k + "misses", t.misses());
        m.put(k + "allocated_bytes.current", t.liveBytes());
        m.put(k + "allocated_bytes.peak", t.peakLiveBytes());
        m.put(k + "cached_bytes.current", t.cachedBytes());
        m.put(k + "reserved_bytes.current", t.reservedBytes());
        m.put(k + "reserved_bytes.peak", t.peakReservedBytes());
        m.put(k + "num_device_alloc", t.rawAllocations());
        m.put(k + "num_device_free", t.rawFrees());
        m.put(k + "learnable_bytes", t.learnableBytes());
    }
}
