package org.tensorbuffer.micrometer;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.tensorbuffer.observe.MemorySource;

/**
 * Binds the meters of a context's ({@code TensorContext}'s) pool ({@link BufferPoolMetrics}), TensorBuffer
 * ({@link TensorBufferMetrics}) and planner ({@link PlannerMetrics}) in one call.
 *
 * <pre>{@code
 * new TensorContextMetrics(ctx, Tags.of("model", "stories15M")).bindTo(registry);
 * }</pre>
 */
public final class TensorContextMetrics implements MeterBinder {
    private final MemorySource ctx;
    private final Iterable<Tag> tags;

    /** Meters of {@code ctx}'s allocators. */
    public TensorContextMetrics(MemorySource ctx) {
        this(ctx, Tags.empty());
    }

    /** Meters of {@code ctx}'s allocators, each with {@code extraTags}. */
    public TensorContextMetrics(MemorySource ctx, Iterable<Tag> extraTags) {
        this.ctx = ctx;
        this.tags = extraTags;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        new BufferPoolMetrics(ctx.pool(), tags).bindTo(registry);
        new TensorBufferMetrics(ctx.tensorBuffer(), tags).bindTo(registry);
        new PlannerMetrics(ctx.planner(), tags).bindTo(registry);
    }
}
