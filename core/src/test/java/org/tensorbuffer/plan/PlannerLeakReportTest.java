package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.leak.LeakReport;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** A planner closed with arena blocks still out reports them through the LeakDetector, as the pools do. */
class PlannerLeakReportTest {
    @Test
    void arenaBlocksOutAtCloseAreReportedAsLeaks() {
        TestDevice device = new TestDevice();
        List<LeakReport> reports = new CopyOnWriteArrayList<>();
        Consumer<LeakReport> listener = reports::add;
        LeakDetector.addListener(listener);
        try {
            TensorContext ctx = TensorContext.create(device, AllocationStrategy.PLANNED);
            try (PlannedRun run = ctx.run()) {
                ctx.zeros(Shape.of(16), DType.F32).close();
            }
            ctx.beginRun();
            Tensor kept = ctx.zeros(Shape.of(16), DType.F32);   // from the arena, still out at close
            ctx.endRun();
            long arenaBytes = ctx.planner().arena().byteSize();
            ctx.planner().close();
            assertThat(reports).filteredOn(r -> r.resource().contains("PlannedAllocator"))
                    .singleElement()
                    .satisfies(r -> {
                        assertThat(r.kind()).isEqualTo(LeakReport.Kind.OUTSTANDING_AT_CLOSE);
                        assertThat(r.count()).isEqualTo(1);
                        assertThat(r.bytes()).isEqualTo(arenaBytes);
                    });
            kept.close();                                          // the arena is freed with its last block
            ctx.close();
        } finally {
            LeakDetector.removeListener(listener);
        }
        assertThat(device.liveBuffers()).isZero();
    }
}
