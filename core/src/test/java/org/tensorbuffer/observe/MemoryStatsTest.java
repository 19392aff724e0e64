package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;

class MemoryStatsTest {
    private static final String[] FIGURES = {"allocated_bytes.%s.current", "allocated_bytes.%s.peak",
        "active_bytes.%s.current", "active_bytes.%s.peak", "inactive_bytes.%s.current", "reserved_bytes.%s.current",
        "reserved_bytes.%s.peak", "requests.%s", "hits.%s", "misses.%s", "num_device_alloc.%s",
        "num_device_free.%s"};

    @Test
    void keysAreStableAndInAFixedOrder() {
        try (TensorContext ctx = TensorContext.create(new TestDevice("statkeys"), AllocationStrategy.REACTIVE)) {
            List<String> expected = new ArrayList<>();
            for (String c : new String[] {"all", "pool", "tensor_buffer", "raw"}) {
                for (String f : FIGURES) {
                    expected.add(String.format(f, c));
                }
            }
            expected.addAll(List.of("num_evictions", "num_alloc_retries", "num_ooms", "learnable_bytes.current",
                    "num_leaks_reported"));
            assertThat(ctx.memoryStats().keySet()).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void valuesFollowTheAllocationsOfEveryStrategy() {
        TestDevice dev = new TestDevice("statvals");
        try (TensorContext ctx = TensorContext.create(dev, AllocationStrategy.PROACTIVE)) {
            ctx.tensorBuffer().reserve(Shape.of(10), DType.F32, 1);          // 40 B reserved
            Tensor t1 = ctx.empty(Shape.of(10), DType.F32);                   // TensorBuffer hit
            Tensor t2 = ctx.empty(Shape.of(10), DType.F32);                   // miss -> pool miss, 64 B class
            t2.close();                                                       // cached in the pool
            Tensor t3 = ctx.empty(Shape.of(10), DType.F32);                   // miss -> pool hit
            ctx.strategy(AllocationStrategy.NONE);
            Tensor t4 = ctx.empty(Shape.of(100), DType.F32);                  // raw, 400 B
            Map<String, Long> m = ctx.memoryStats();
            assertThat(m).containsEntry("allocated_bytes.all.current", 40L + 64 + 400)
                    .containsEntry("allocated_bytes.tensor_buffer.current", 40L)
                    .containsEntry("allocated_bytes.pool.current", 64L)
                    .containsEntry("allocated_bytes.raw.current", 400L)
                    .containsEntry("reserved_bytes.all.current", 504L)
                    .containsEntry("inactive_bytes.all.current", 0L)
                    .containsEntry("requests.all", 4L)
                    .containsEntry("hits.all", 2L)
                    .containsEntry("misses.all", 2L)
                    .containsEntry("requests.pool", 2L)
                    .containsEntry("hits.pool", 1L)
                    .containsEntry("num_device_alloc.all", 3L)
                    .containsEntry("num_device_free.all", 0L)
                    .containsEntry("num_ooms", 0L);
            t1.close();
            t3.close();
            t4.close();
            m = ctx.memoryStats();
            assertThat(m).containsEntry("allocated_bytes.all.current", 0L)
                    .containsEntry("allocated_bytes.all.peak", 504L)
                    .containsEntry("reserved_bytes.all.current", 40L + 64)
                    .containsEntry("inactive_bytes.all.current", 104L)
                    .containsEntry("reserved_bytes.all.peak", 504L)
                    .containsEntry("num_device_free.all", 1L);
            assertThat(m.get("hits.all") + m.get("misses.all")).isEqualTo(m.get("requests.all"));
            assertThat(m.get("reserved_bytes.all.current")).isEqualTo(dev.usedBytes());

            Map<String, Long> pool = MemoryStats.of(ctx.pool());
            assertThat(pool).containsEntry("requests.all", 2L).containsEntry("reserved_bytes.all.current", 64L)
                    .containsKey("num_alloc_retries");
            Map<String, Long> tb = MemoryStats.of(ctx.tensorBuffer());
            assertThat(tb).containsEntry("requests.all", 3L).containsEntry("hits.all", 1L)
                    .containsEntry("misses.all", 2L).containsEntry("reserved_bytes.all.current", 40L);
        }
    }
}
