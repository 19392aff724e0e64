package org.tensorbuffer.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToDoubleFunction;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.PoolStats;

/**
 * Micrometer meters of a {@link BufferPool}, in the style of Micrometer's Netty allocator metrics. Meters (Prometheus
 * names in brackets), each tagged {@code allocator=buffer_pool}, {@code device} (the device id) and {@code name} (the
 * pool's name) plus any extra tags:
 * <ul>
 *   <li>gauges, bytes: {@code tensorbuffer.memory.allocated} [{@code tensorbuffer_memory_allocated_bytes}] (live
 *       blocks), {@code tensorbuffer.memory.cached} (free blocks kept), {@code tensorbuffer.memory.reserved} (held
 *       from the device: allocated + cached), {@code tensorbuffer.memory.allocated.peak},
 *       {@code tensorbuffer.memory.reserved.peak}, {@code tensorbuffer.memory.budget} (0: none);</li>
 *   <li>function counters: {@code tensorbuffer.allocations} [{@code tensorbuffer_allocations_total}] (requests),
 *       {@code tensorbuffer.allocations.hits}, {@code tensorbuffer.allocations.misses},
 *       {@code tensorbuffer.device.allocations}, {@code tensorbuffer.device.frees}, {@code tensorbuffer.evictions},
 *       {@code tensorbuffer.alloc.retries}, {@code tensorbuffer.ooms}.</li>
 * </ul>
 * The meters read {@link BufferPool#stats()} when scraped and hold the pool weakly (Micrometer's default), so binding
 * never keeps a closed pool alive; after it is collected they read NaN. Thread-safe.
 */
public final class BufferPoolMetrics implements MeterBinder {
    private final BufferPool pool;
    private final Iterable<Tag> tags;

    /** Meters of {@code pool} with its device and name as tags. */
    public BufferPoolMetrics(BufferPool pool) {
        this(pool, Tags.empty());
    }

    /** Meters of {@code pool} with its device and name plus {@code extraTags}. */
    public BufferPoolMetrics(BufferPool pool, Iterable<Tag> extraTags) {
        this.pool = pool;
        this.tags = Tags.of("allocator", "buffer_pool", "device", pool.device().id(), "name", pool.name())
                .and(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(registry, "tensorbuffer.memory.allocated", "Bytes of blocks handed out and not yet released",
                s -> s.liveBytes());
        gauge(registry, "tensorbuffer.memory.cached", "Bytes of free blocks kept for reuse", s -> s.cachedBytes());
        gauge(registry, "tensorbuffer.memory.reserved", "Bytes held from the device (allocated + cached)",
                s -> s.reservedBytes());
        gauge(registry, "tensorbuffer.memory.allocated.peak", "High-water mark of allocated bytes",
                s -> s.peakLiveBytes());
        gauge(registry, "tensorbuffer.memory.reserved.peak", "High-water mark of reserved bytes",
                s -> s.peakReservedBytes());
        gauge(registry, "tensorbuffer.memory.budget", "Reserved-bytes budget (0: none)", s -> s.budgetBytes());
        counter(registry, "tensorbuffer.allocations", "Allocation requests", s -> s.requests());
        counter(registry, "tensorbuffer.allocations.hits", "Requests served from the cache", s -> s.hits());
        counter(registry, "tensorbuffer.allocations.misses", "Requests that needed a device allocation",
                s -> s.misses());
        counter(registry, "tensorbuffer.device.allocations", "Device allocations", s -> s.rawAllocations());
        counter(registry, "tensorbuffer.device.frees", "Device frees", s -> s.rawFrees());
        counter(registry, "tensorbuffer.evictions", "Cached blocks freed for the budget, a cap or out of memory",
                s -> s.evictions());
        counter(registry, "tensorbuffer.alloc.retries",
                "Device allocations retried after out-of-memory and emptying the cache", s -> s.allocRetries());
        counter(registry, "tensorbuffer.ooms", "Requests that failed with out-of-memory", s -> s.ooms());
    }

    private void gauge(MeterRegistry r, String name, String help, ToDoubleFunction<PoolStats> f) {
        Gauge.builder(name, pool, p -> f.applyAsDouble(p.stats())).description(help).baseUnit(BaseUnits.BYTES)
                .tags(tags).register(r);
    }

    private void counter(MeterRegistry r, String name, String help, ToDoubleFunction<PoolStats> f) {
        FunctionCounter.builder(name, pool, p -> f.applyAsDouble(p.stats())).description(help).tags(tags).register(r);
    }
}
