package org.tensorbuffer.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToDoubleFunction;
import org.tensorbuffer.plan.PlanStats;
import org.tensorbuffer.plan.PlannedAllocator;

/**
 * Micrometer meters of a {@link PlannedAllocator} (the liveness planner of strategy PLANNED), tagged
 * {@code allocator=planner} and {@code device}: gauge {@code tensorbuffer.memory.arena} (bytes of the current arena)
 * and function counters {@code tensorbuffer.planner.runs}, {@code tensorbuffer.planner.runs.recorded},
 * {@code tensorbuffer.planner.runs.replayed}, {@code tensorbuffer.planner.runs.divergent},
 * {@code tensorbuffer.planner.allocations} with tag {@code outcome=planned|fallback|unplanned}, and
 * {@code tensorbuffer.device.allocations} (arenas). Holds the planner weakly. Thread-safe.
 */
public final class PlannerMetrics implements MeterBinder {
    private final PlannedAllocator planner;
    private final Iterable<Tag> tags;

    /** Meters of {@code planner} with its device as a tag. */
    public PlannerMetrics(PlannedAllocator planner) {
        this(planner, Tags.empty());
    }

    /** Meters of {@code planner} with its device plus {@code extraTags}. */
    public PlannerMetrics(PlannedAllocator planner, Iterable<Tag> extraTags) {
        this.planner = planner;
        // "name" as the pool and TensorBuffer meters have it (a context has one planner): Prometheus refuses a meter
        // whose tag keys differ from those of another meter of the same name (tensorbuffer.device.allocations)
        this.tags = Tags.of("allocator", "planner", "device", planner.device().id(), "name", "default")
                .and(extraTags);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("tensorbuffer.memory.arena", planner, p -> p.stats().arenaBytes())
                .description("Bytes of the planner's current arena").baseUnit(BaseUnits.BYTES).tags(tags)
                .register(registry);
        counter(registry, "tensorbuffer.planner.runs", "Planned runs", Tags.empty(), PlanStats::runs);
        counter(registry, "tensorbuffer.planner.runs.recorded", "Runs recorded to make a plan", Tags.empty(),
                PlanStats::recordedRuns);
        counter(registry, "tensorbuffer.planner.runs.replayed", "Runs replayed on plan", Tags.empty(),
                PlanStats::replayedRuns);
        counter(registry, "tensorbuffer.planner.runs.divergent", "Runs that left their plan", Tags.empty(),
                PlanStats::divergentRuns);
        counter(registry, "tensorbuffer.planner.allocations", "Allocations served from the arena",
                Tags.of("outcome", "planned"), PlanStats::plannedAllocations);
        counter(registry, "tensorbuffer.planner.allocations", "Allocations in runs served by the pool",
                Tags.of("outcome", "fallback"), PlanStats::fallbackAllocations);
        counter(registry, "tensorbuffer.planner.allocations", "Allocations outside runs",
                Tags.of("outcome", "unplanned"), PlanStats::unplannedAllocations);
        counter(registry, "tensorbuffer.device.allocations", "Device allocations (arenas)", Tags.empty(),
                PlanStats::arenaAllocations);
    }

    private void counter(MeterRegistry r, String name, String help, Tags extra, ToDoubleFunction<PlanStats> f) {
        FunctionCounter.builder(name, planner, p -> f.applyAsDouble(p.stats())).description(help).tags(tags)
                .tags(extra).register(r);
    }
}
