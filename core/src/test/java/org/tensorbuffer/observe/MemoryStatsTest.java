package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class MemoryStatsTest {
    /** The keys of {@code torch.cuda.memory_stats()} (PyTorch 2.x) for the statistics this project keeps. */
    private static List<String> torchKeys() {
        List<String> keys = new ArrayList<>();
        for (String stat : List.of("allocation", "segment", "active", "inactive_split", "allocated_bytes",
                "reserved_bytes", "active_bytes", "inactive_split_bytes", "requested_bytes")) {
            for (String pool : List.of("all", "small_pool", "large_pool")) {
                for (String fig : List.of("current", "peak", "allocated", "freed")) {
                    keys.add(stat + "." + pool + "." + fig);
                }
            }
        }
        keys.addAll(List.of("num_alloc_retries", "num_ooms", "num_sync_all_streams", "num_device_alloc",
                "num_device_free"));
        return keys;
    }

    @Test
    void torchKeysComeFirstInTorchOrderThenTheProjectsOwnPrefix() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("statkeys"), AllocationStrategy.REACTIVE)) {
            List<String> keys = new ArrayList<>(ctx.memoryStats().keySet());
            List<String> torch = torchKeys();
            assertThat(keys.subList(0, torch.size())).containsExactlyElementsOf(torch);
            assertThat(keys.subList(torch.size(), keys.size())).allMatch(k -> k.startsWith("tensorbuffer."))
                    .contains("tensorbuffer.pool.hits", "tensorbuffer.tensor_buffer.learnable_bytes",
                            "tensorbuffer.raw.num_device_alloc", "tensorbuffer.planner.arena_bytes",
                            "tensorbuffer.num_leaks_reported");
        }
    }

    @Test
    void valuesHaveTorchsMeaningsAcrossAllocators() {
        TestDevice dev = new TestDevice("statvals");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.PROACTIVE)) {
            ctx.tensorBuffer().reserve(Shape.of(10), DType.F32, 1);          // 40 B segment
            Tensor t1 = ctx.empty(Shape.of(10), DType.F32);                   // TensorBuffer hit, 40 B
            Tensor t2 = ctx.empty(Shape.of(10), DType.F32);                   // miss -> pool: 64 B segment + block
            t2.close();                                                       // cached in the pool
            Tensor t3 = ctx.empty(Shape.of(10), DType.F32);                   // miss -> pool hit, 64 B
            ctx.strategy(AllocationStrategy.NONE);
            Tensor t4 = ctx.empty(Shape.of(100), DType.F32);                  // raw 400 B segment + block
            Tensor big = ctx.empty(Shape.of(512 * 1024), DType.F32);          // raw 2 MiB: large pool
            Map<String, Long> m = ctx.memoryStats();
            long mib2 = 2L << 20;
            assertThat(m).containsEntry("allocation.all.current", 4L)
                    .containsEntry("allocation.all.peak", 4L)
                    .containsEntry("allocation.all.allocated", 5L)
                    .containsEntry("allocation.all.freed", 1L)
                    .containsEntry("allocation.small_pool.current", 3L)
                    .containsEntry("allocation.large_pool.current", 1L)
                    .containsEntry("active.all.current", 4L)
                    .containsEntry("segment.all.current", 4L)
                    .containsEntry("segment.small_pool.current", 3L)
                    .containsEntry("segment.large_pool.allocated", 1L)
                    .containsEntry("allocated_bytes.all.current", 40L + 64 + 400 + mib2)
                    .containsEntry("allocated_bytes.small_pool.current", 504L)
                    .containsEntry("allocated_bytes.large_pool.current", mib2)
                    .containsEntry("allocated_bytes.all.allocated", 40L + 64 + 64 + 400 + mib2)
                    .containsEntry("allocated_bytes.all.freed", 64L)
                    .containsEntry("requested_bytes.all.current", 40L + 40 + 400 + mib2)
                    .containsEntry("reserved_bytes.all.current", 504L + mib2)
                    .containsEntry("inactive_split.all.current", 0L)
                    .containsEntry("inactive_split_bytes.all.current", 0L)
                    .containsEntry("num_device_alloc", 4L)
                    .containsEntry("num_device_free", 0L)
                    .containsEntry("num_ooms", 0L)
                    .containsEntry("tensorbuffer.tensor_buffer.hits", 1L)
                    .containsEntry("tensorbuffer.tensor_buffer.misses", 2L)
                    .containsEntry("tensorbuffer.pool.requests", 2L)
                    .containsEntry("tensorbuffer.pool.hits", 1L)
                    .containsEntry("tensorbuffer.raw.allocated_bytes.current", 400L + mib2);
            big.close();
            t1.close();
            t3.close();
            t4.close();
            m = ctx.memoryStats();
            assertThat(m).containsEntry("allocated_bytes.all.current", 0L)
                    .containsEntry("allocated_bytes.all.peak", 504L + mib2)
                    .containsEntry("requested_bytes.all.peak", 480L + mib2)
                    .containsEntry("reserved_bytes.all.current", 40L + 64)
                    .containsEntry("reserved_bytes.all.peak", 504L + mib2)
                    .containsEntry("segment.all.freed", 2L)
                    .containsEntry("num_device_free", 2L);
            assertThat(m.get("reserved_bytes.all.current")).isEqualTo(dev.usedBytes());

            Map<String, Long> pool = MemoryStats.of(ctx.pool());
            assertThat(pool).containsEntry("tensorbuffer.pool.requests", 2L)
                    .containsEntry("reserved_bytes.all.current", 64L).containsEntry("segment.all.current", 1L)
                    .containsKey("num_alloc_retries");
            Map<String, Long> tb = MemoryStats.of(ctx.tensorBuffer());
            assertThat(tb).containsEntry("tensorbuffer.tensor_buffer.requests", 3L)
                    .containsEntry("tensorbuffer.tensor_buffer.hits", 1L)
                    .containsEntry("reserved_bytes.all.current", 40L);
        }
    }

    @Test
    void peaksAreTruePeaksOverTheContextNotSumsOfPeaks() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("truepeak"), AllocationStrategy.REACTIVE)) {
            ctx.empty(Shape.of(256), DType.F32).close();   // pool peak 1 KiB, then freed
            ctx.strategy(AllocationStrategy.NONE);
            ctx.empty(Shape.of(256), DType.F32).close();   // raw peak 1 KiB, never at the same time as the pool's
            Map<String, Long> m = ctx.memoryStats();
            assertThat(m.get("tensorbuffer.pool.allocated_bytes.peak") + m.get("tensorbuffer.raw.allocated_bytes.peak"))
                    .isEqualTo(2048L);
            assertThat(m).containsEntry("allocated_bytes.all.peak", 1024L);
            ctx.memoryCounters().resetPeaks();
            assertThat(ctx.memoryStats()).containsEntry("allocated_bytes.all.peak", 0L)
                    .containsEntry("reserved_bytes.all.peak", 1024L);
        }
    }

    /**
     * For every strategy, a small decode-like workload (weights, temporaries in scopes, planned runs): the context's
     * statistics agree with the allocators they summarise.
     */
    @ParameterizedTest
    @EnumSource(AllocationStrategy.class)
    void statisticsAgreeWithTheAllocatorsForEveryStrategy(AllocationStrategy strategy) {
        TestDevice dev = new TestDevice("every-" + strategy);
        TensorContext ctx = TensorContext.create(dev, strategy);
        if (strategy == AllocationStrategy.PROACTIVE) {
            ctx.tensorBuffer().reserve(Shape.of(64, 64), DType.F32, 2);
        }
        List<Tensor> weights = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            weights.add(ctx.empty(Shape.of(128, 64), DType.F32));
        }
        long truePeakSeen = 0;
        for (int run = 0; run < 3; run++) {
            ctx.beginRun();
            long[] live = new long[1];
            MemoryScope.run(() -> {
                for (int i = 0; i < 4; i++) {
                    Tensor a = ctx.empty(Shape.of(64, 64), DType.F32);
                    Tensor b = ctx.empty(Shape.of(1000 + i), DType.F32);
                    b.close();
                    a.reshape(4096).close();
                }
                live[0] = ctx.memoryStats().get("allocated_bytes.all.current");
            });
            ctx.endRun();
            truePeakSeen = Math.max(truePeakSeen, live[0]);
            Map<String, Long> m = ctx.memoryStats();
            assertThat(m.get("reserved_bytes.all.current")).as("reserved >= allocated")
                    .isGreaterThanOrEqualTo(m.get("allocated_bytes.all.current"));
            assertThat(m.get("reserved_bytes.all.current")).as("reserved = the allocators' device memory")
                    .isEqualTo(m.get("tensorbuffer.pool.reserved_bytes.current")
                            + m.get("tensorbuffer.tensor_buffer.reserved_bytes.current")
                            + m.get("tensorbuffer.raw.allocated_bytes.current")
                            + m.get("tensorbuffer.planner.arena_bytes"))
                    .isEqualTo(dev.usedBytes());
        }
        Map<String, Long> m = ctx.memoryStats();
        long sumOfPeaks = m.get("tensorbuffer.pool.allocated_bytes.peak")
                + m.get("tensorbuffer.tensor_buffer.allocated_bytes.peak")
                + m.get("tensorbuffer.raw.allocated_bytes.peak") + m.get("tensorbuffer.planner.arena_bytes");
        long peak = m.get("allocated_bytes.all.peak");
        assertThat(peak).as("peak <= sum of peaks").isLessThanOrEqualTo(sumOfPeaks)
                .isGreaterThanOrEqualTo(truePeakSeen).isGreaterThanOrEqualTo(3 * 128 * 64 * 4);
        assertThat(m.get("reserved_bytes.all.peak")).isGreaterThanOrEqualTo(peak);
        assertThat(m.get("requested_bytes.all.current")).isLessThanOrEqualTo(m.get("allocated_bytes.all.current"));
        if (strategy == AllocationStrategy.PLANNED) {
            assertThat(m.get("tensorbuffer.planner.planned_allocations")).isPositive();
        }
        weights.forEach(Tensor::close);
        m = ctx.memoryStats();
        for (String stat : List.of("allocation", "active", "allocated_bytes", "active_bytes", "requested_bytes")) {
            for (String pool : List.of("all", "small_pool", "large_pool")) {
                String k = stat + "." + pool + ".";
                assertThat(m.get(k + "current")).as(k + "current after closing every tensor").isZero();
                assertThat(m.get(k + "allocated")).as(k + "allocated = freed").isEqualTo(m.get(k + "freed"));
            }
        }
        assertThat(m.get("allocation.all.allocated")).isEqualTo(3 + 3 * 8);
        ctx.close();
        m = ctx.memoryStats();
        for (String stat : List.of("segment", "reserved_bytes")) {
            for (String pool : List.of("all", "small_pool", "large_pool")) {
                String k = stat + "." + pool + ".";
                assertThat(m.get(k + "current")).as(k + "current after close").isZero();
                assertThat(m.get(k + "allocated")).as(k + "allocated = freed").isEqualTo(m.get(k + "freed"));
            }
        }
        assertThat(m.get("num_device_alloc")).isEqualTo(dev.allocations());
        assertThat(m.get("num_device_free")).isEqualTo(dev.frees());
        assertThat(dev.usedBytes()).isZero();
    }
}
