package org.tensorbuffer.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToDoubleFunction;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.TensorBufferStats;

/**
 * Micrometer meters of a {@link TensorBuffer}: the same names as {@link BufferPoolMetrics} (so one dashboard shows
 * both) with {@code allocator=tensor_buffer}, plus the gauge {@code tensorbuffer.memory.learnable} (bytes of learnable
 * buffers, e.g. weights) and {@code tensorbuffer.buffers.reserved} (reserved blocks). Requests, hits and misses count
 * {@link TensorBuffer#take} calls (a miss is served by the fallback pool). Holds the TensorBuffer weakly. Thread-safe.
 */
public final class TensorBufferMetrics implements MeterBinder {
    private final TensorBuffer tensorBuffer;
    private final Iterable<Tag> tags;

    /** Meters of {@code tensorBuffer} with its device and name as tags. */
    public TensorBufferMetrics(TensorBuffer tensorBuffer) {
        this(tensorBuffer, Tags.empty());
    }

    /** Meters of {@code tensorBuffer} with its device and name plus {@code extraTags}. */
    public TensorBufferMetrics(TensorBuffer tensorBuffer, Iterable<Tag> extraTags) {
        this.tensorBuffer = tensorBuffer;
        this.tags = Tags.of("allocator", "tensor_buffer", "device", tensorBuffer.device().id(), "name",
                tensorBuffer.name()).and(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(registry, "tensorbuffer.memory.allocated", "Bytes of blocks handed out and not yet released",
                s -> s.liveBytes(), true);
        gauge(registry, "tensorbuffer.memory.cached", "Bytes of free blocks kept for reuse", s -> s.cachedBytes(),
                true);
        gauge(registry, "tensorbuffer.memory.reserved", "Bytes held from the device (allocated + cached)",
                s -> s.reservedBytes(), true);
        gauge(registry, "tensorbuffer.memory.allocated.peak", "High-water mark of allocated bytes",
                s -> s.peakLiveBytes(), true);
        gauge(registry, "tensorbuffer.memory.reserved.peak", "High-water mark of reserved bytes",
                s -> s.peakReservedBytes(), true);
        gauge(registry, "tensorbuffer.memory.learnable", "Bytes of learnable buffers (weights)",
                s -> s.learnableBytes(), true);
        gauge(registry, "tensorbuffer.buffers.reserved", "Reserved blocks", s -> s.reservedBlocks(), false);
        counter(registry, "tensorbuffer.allocations", "Allocation requests", s -> s.requests());
        counter(registry, "tensorbuffer.allocations.hits", "Requests served from a reserved block", s -> s.hits());
        counter(registry, "tensorbuffer.allocations.misses", "Requests passed to the fallback pool",
                s -> s.misses());
        counter(registry, "tensorbuffer.device.allocations", "Device allocations", s -> s.rawAllocations());
        counter(registry, "tensorbuffer.device.frees", "Device frees", s -> s.rawFrees());
    }

    private void gauge(MeterRegistry r, String name, String help, ToDoubleFunction<TensorBufferStats> f,
                       boolean bytes) {
        Gauge.Builder<TensorBuffer> b = Gauge.builder(name, tensorBuffer, t -> f.applyAsDouble(t.stats()))
                .description(help).tags(tags);
        if (bytes) {
            b.baseUnit(BaseUnits.BYTES);
        }
        b.register(r);
    }

    private void counter(MeterRegistry r, String name, String help, ToDoubleFunction<TensorBufferStats> f) {
        FunctionCounter.builder(name, tensorBuffer, t -> f.applyAsDouble(t.stats())).description(help).tags(tags)
                .register(r);
    }
}
