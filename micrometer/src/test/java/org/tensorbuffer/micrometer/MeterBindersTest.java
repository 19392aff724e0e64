package org.tensorbuffer.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.plan.PlanStats;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class MeterBindersTest {
    /** Reactive, proactive and planned work on one context, so that every allocator has figures. */
    private static List<Tensor> work(TensorContext ctx) {
        List<Tensor> keep = new ArrayList<>();
        ctx.tensorBuffer().reserve(Shape.of(32, 32), DType.F32, 2);
        ctx.tensorBuffer().reserveLearnable("w", Shape.of(64), DType.F32);
        ctx.strategy(AllocationStrategy.PROACTIVE);
        keep.add(ctx.empty(Shape.of(32, 32), DType.F32));
        ctx.empty(Shape.of(7), DType.F32).close();                      // TensorBuffer miss -> pool
        ctx.strategy(AllocationStrategy.REACTIVE);
        for (int i = 0; i < 5; i++) {
            ctx.empty(Shape.of(100), DType.F32).close();                 // 1 miss, 4 hits
        }
        keep.add(ctx.empty(Shape.of(1000), DType.F32));
        ctx.strategy(AllocationStrategy.PLANNED);
        for (int run = 0; run < 3; run++) {
            ctx.beginRun();
            MemoryScope.run(() -> {
                ctx.empty(Shape.of(16, 16), DType.F32);
                ctx.empty(Shape.of(8), DType.F32);
            });
            ctx.endRun();
        }
        return keep;
    }

    @Test
    void simpleRegistryReadsTheAllocatorsStatistics() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("meters"), AllocationStrategy.REACTIVE)) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new TensorContextMetrics(ctx, Tags.of("model", "test")).bindTo(registry);
            List<Tensor> keep = work(ctx);
            PoolStats p = ctx.pool().stats();
            TensorBufferStats t = ctx.tensorBuffer().stats();
            PlanStats plan = ctx.planner().stats();
            assertThat(p.requests()).isGreaterThan(5);
            assertThat(gauge(registry, "tensorbuffer.memory.allocated", "buffer_pool")).isEqualTo(p.liveBytes());
            assertThat(gauge(registry, "tensorbuffer.memory.reserved", "buffer_pool")).isEqualTo(p.reservedBytes());
            assertThat(gauge(registry, "tensorbuffer.memory.cached", "buffer_pool")).isEqualTo(p.cachedBytes());
            assertThat(counter(registry, "tensorbuffer.allocations", "buffer_pool")).isEqualTo(p.requests());
            assertThat(counter(registry, "tensorbuffer.allocations.hits", "buffer_pool")).isEqualTo(p.hits());
            assertThat(counter(registry, "tensorbuffer.allocations.misses", "buffer_pool")).isEqualTo(p.misses());
            assertThat(counter(registry, "tensorbuffer.device.allocations", "buffer_pool"))
                    .isEqualTo(p.rawAllocations());
            assertThat(gauge(registry, "tensorbuffer.memory.learnable", "tensor_buffer")).isEqualTo(256);
            assertThat(gauge(registry, "tensorbuffer.memory.reserved", "tensor_buffer")).isEqualTo(t.reservedBytes());
            assertThat(counter(registry, "tensorbuffer.allocations.hits", "tensor_buffer")).isEqualTo(t.hits());
            assertThat(counter(registry, "tensorbuffer.allocations.misses", "tensor_buffer")).isEqualTo(1);
            assertThat(gauge(registry, "tensorbuffer.memory.arena", "planner")).isEqualTo(plan.arenaBytes())
                    .isPositive();
            assertThat(registry.get("tensorbuffer.planner.allocations").tag("outcome", "planned").functionCounter()
                    .count()).isEqualTo(plan.plannedAllocations()).isEqualTo(4);
            assertThat(registry.get("tensorbuffer.planner.runs").functionCounter().count()).isEqualTo(3);
            assertThat(registry.get("tensorbuffer.memory.allocated").tag("allocator", "buffer_pool").gauge().getId()
                    .getTags()).extracting(Object::toString).contains("tag(device=meters)", "tag(name=default)",
                    "tag(model=test)");
            keep.forEach(Tensor::close);
            assertThat(gauge(registry, "tensorbuffer.memory.allocated", "buffer_pool")).isZero();
        }
    }

    @Test
    void prometheusScrapeFollowsItsNamingConventions() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("prom"), AllocationStrategy.REACTIVE)) {
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            new TensorContextMetrics(ctx).bindTo(registry);
            List<Tensor> keep = work(ctx);
            PoolStats p = ctx.pool().stats();
            String text = registry.scrape();
            String pool = "{allocator=\"buffer_pool\",device=\"prom\",name=\"default\"}";
            assertThat(text).contains("# TYPE tensorbuffer_memory_allocated_bytes gauge")
                    .contains("tensorbuffer_memory_allocated_bytes" + pool + " " + (double) p.liveBytes())
                    .contains("tensorbuffer_memory_reserved_bytes" + pool + " " + (double) p.reservedBytes())
                    .contains("# TYPE tensorbuffer_allocations_total counter")
                    .contains("tensorbuffer_allocations_total" + pool + " " + (double) p.requests())
                    .contains("tensorbuffer_allocations_hits_total" + pool + " " + (double) p.hits())
                    .contains("tensorbuffer_memory_learnable_bytes{allocator=\"tensor_buffer\",device=\"prom\","
                            + "name=\"default\"} 256.0")
                    .contains("tensorbuffer_planner_allocations_total{allocator=\"planner\",device=\"prom\","
                            + "name=\"default\",outcome=\"planned\"} 4.0")
                    // the planner's device allocations sit beside the pool's under one meter name
                    .contains("tensorbuffer_device_allocations_total{allocator=\"planner\",device=\"prom\","
                            + "name=\"default\"}");
            keep.forEach(Tensor::close);
        }
    }

    private static double gauge(SimpleMeterRegistry r, String name, String allocator) {
        return r.get(name).tag("allocator", allocator).gauge().value();
    }

    private static double counter(SimpleMeterRegistry r, String name, String allocator) {
        return r.get(name).tag("allocator", allocator).functionCounter().count();
    }
}
