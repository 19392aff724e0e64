package org.tensorbuffer.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.Unpickler;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** The PyTorch memory snapshot: its structure, then PyTorch's own readers (Python and MemoryViz.js). */
class TorchMemorySnapshotTest {
    /**
     * Weights and a cache that stay live, temporaries in scopes, raw (NONE) tensors, and planned runs whose arena
     * holds several blocks with gaps: every kind of segment.
     */
    static MemoryHistory workload(TensorContext ctx, List<Tensor> keep) {
        MemoryHistory h = MemoryHistory.record(ctx, 10_000, true);
        for (int l = 0; l < 4; l++) {
            keep.add(ctx.empty(Shape.of(256, 256), DType.F32));
        }
        for (int step = 0; step < 12; step++) {
            final int s = step;
            MemoryScope.run(() -> {
                for (int l = 0; l < 4; l++) {
                    ctx.empty(Shape.of(256), DType.F32);
                    ctx.empty(Shape.of(4, s + 1), DType.F32);
                    ctx.empty(Shape.of(1024), DType.F32);
                }
            });
            keep.add(ctx.empty(Shape.of(8, 256), DType.F32));
        }
        ctx.strategy(AllocationStrategy.NONE);
        MemoryScope.run(() -> ctx.empty(Shape.of(512, 512), DType.F32));
        keep.add(ctx.empty(Shape.of(300), DType.F32));
        ctx.strategy(AllocationStrategy.PLANNED);
        for (int run = 0; run < 3; run++) {
            ctx.beginRun();
            MemoryScope.run(() -> {
                Tensor a = ctx.empty(Shape.of(64, 64), DType.F32);
                ctx.empty(Shape.of(1000), DType.F32).close();
                ctx.empty(Shape.of(32, 64), DType.F32);
                a.close();
                ctx.empty(Shape.of(16), DType.F32);
            });
            ctx.endRun();
        }
        ctx.beginRun();
        keep.add(ctx.empty(Shape.of(64, 64), DType.F32)); // an arena slice live at the dump
        ctx.strategy(AllocationStrategy.REACTIVE);
        h.stop();
        return h;
    }

    @Test
    @SuppressWarnings("unchecked")
    void segmentsAreTiledByTheirBlocksAndTheTraceHasTorchsActions() throws Exception {
        List<Tensor> keep = new ArrayList<>();
        try (TensorContext ctx = TensorContext.create(new TestDevice("snapshot"), AllocationStrategy.REACTIVE)) {
            MemoryHistory h = workload(ctx, keep);
            h.description("test workload");
            Map<String, Object> snap = (Map<String, Object>) new Unpickler().loads(TorchMemorySnapshot.pickle(h));
            List<Map<String, Object>> segs = (List<Map<String, Object>>) snap.get("segments");
            Map<String, Long> stats = ctx.memoryStats();
            long total = 0;
            long active = 0;
            int arenaLike = 0;
            for (Map<String, Object> s : segs) {
                List<Map<String, Object>> blocks = (List<Map<String, Object>>) s.get("blocks");
                long at = number(s.get("address"));
                for (Map<String, Object> b : blocks) {
                    assertThat(number(b.get("address"))).as("blocks tile the segment").isEqualTo(at);
                    at += number(b.get("size"));
                    if (b.get("state").equals("active_allocated")) {
                        active += number(b.get("size"));
                        assertThat(number(b.get("requested_size"))).isLessThanOrEqualTo(number(b.get("size")));
                        assertThat((List<Object>) b.get("frames")).isNotEmpty();
                    }
                }
                assertThat(at).isEqualTo(number(s.get("address")) + number(s.get("total_size")));
                total += number(s.get("total_size"));
                arenaLike += blocks.size() > 1 ? 1 : 0;
                assertThat(s.get("device")).isEqualTo(0);
                assertThat(s.get("stream")).isEqualTo(0);
            }
            assertThat(total).isEqualTo(stats.get("reserved_bytes.all.current"));
            assertThat(active).isEqualTo(stats.get("allocated_bytes.all.current"));
            assertThat(arenaLike).as("the arena: a segment with several blocks").isEqualTo(1);
            List<List<Map<String, Object>>> traces = (List<List<Map<String, Object>>>) snap.get("device_traces");
            assertThat(traces).hasSize(1);
            List<Map<String, Object>> trace = traces.get(0);
            assertThat(trace).extracting(e -> e.get("action")).containsOnly("alloc", "free_requested",
                    "free_completed", "segment_alloc", "segment_free");
            long allocs = h.events().stream().filter(e -> e.kind() == MemoryEvent.Kind.ALLOC).count();
            assertThat(trace.stream().filter(e -> e.get("action").equals("alloc")).count()).isEqualTo(allocs);
            Map<String, Object> first = trace.get(0);
            assertThat(first.get("action")).isEqualTo("segment_alloc");
            List<Map<String, Object>> frames = (List<Map<String, Object>>) trace.get(1).get("frames");
            assertThat(frames.get(0)).containsEntry("filename", "TorchMemorySnapshotTest.java")
                    .containsEntry("name", TorchMemorySnapshotTest.class.getName() + ".workload");
            assertThat((Map<String, Object>) snap.get("tensorbuffer")).containsEntry("description", "test workload");
            keep.forEach(Tensor::close);
            ctx.endRun();
        }
    }

    @Test
    void pytorchsMemoryVizModuleReadsTheSegments() throws Exception {
        String skip = TorchSnapshotChecks.pythonSkipReason();
        Assumptions.assumeTrue(skip == null, skip);
        List<Tensor> keep = new ArrayList<>();
        try (TensorContext ctx = TensorContext.create(new TestDevice("pysnap"), AllocationStrategy.REACTIVE)) {
            MemoryHistory h = workload(ctx, keep);
            Path pickle = Path.of("target", "memory-snapshot-test.pickle");
            h.writeSnapshot(pickle);
            Map<String, String> py = TorchSnapshotChecks.python(pickle);
            Map<String, Long> stats = ctx.memoryStats();
            assertThat(py.get("torch")).isNotBlank();
            assertThat(Long.parseLong(py.get("total_size"))).isEqualTo(stats.get("reserved_bytes.all.current"));
            assertThat(Long.parseLong(py.get("active_allocated"))).isEqualTo(stats.get("allocated_bytes.all.current"));
            assertThat(Long.parseLong(py.get("active_allocated")) + Long.parseLong(py.get("inactive")))
                    .isEqualTo(Long.parseLong(py.get("total_size")));
            assertThat(Long.parseLong(py.get("segments"))).isEqualTo(stats.get("segment.all.current"));
            assertThat(Long.parseLong(py.get("java_frames"))).isPositive();
            long allocs = h.events().stream().filter(e -> e.kind() == MemoryEvent.Kind.ALLOC).count();
            long frees = h.events().stream().filter(e -> e.kind() == MemoryEvent.Kind.FREE).count();
            assertThat(py).containsEntry("trace.alloc", Long.toString(allocs))
                    .containsEntry("trace.free_requested", Long.toString(frees))
                    .containsEntry("trace.free_completed", Long.toString(frees))
                    .containsEntry("streams", "[0]");
            assertThat(Long.parseLong(py.get("trace_alloc_bytes")) - Long.parseLong(py.get("trace_free_bytes")))
                    .as("bytes allocated minus freed while recording = live at the end")
                    .isEqualTo(stats.get("allocated_bytes.all.current"));
            keep.forEach(Tensor::close);
            ctx.endRun();
        }
    }

    @Test
    void pytorchsMemoryVizPageRendersTheSnapshot() throws Exception {
        String skip = TorchSnapshotChecks.memoryVizSkipReason();
        Assumptions.assumeTrue(skip == null, skip);
        List<Tensor> keep = new ArrayList<>();
        try (TensorContext ctx = TensorContext.create(new TestDevice("vizsnap"), AllocationStrategy.REACTIVE)) {
            MemoryHistory h = workload(ctx, keep);
            Path pickle = Path.of("target", "memory-snapshot-viz.pickle");
            h.writeSnapshot(pickle);
            for (String view : List.of("Active Memory Timeline", "Allocator State History",
                    "Active Cached Segment Timeline")) {
                Path png = Path.of("target", "memoryviz-" + view.replace(' ', '-').toLowerCase() + ".png");
                TorchSnapshotChecks.Render r = TorchSnapshotChecks.memoryViz(pickle, view, png);
                assertThat(r.errors()).as(view + " in " + r.page()).isEmpty();
                assertThat(r.screenshot().getWidth()).isEqualTo(1200);
                assertThat(r.colouredPixels()).as(view + ": coloured pixels in " + png).isGreaterThan(5000);
            }
            keep.forEach(Tensor::close);
            ctx.endRun();
        }
    }

    private static long number(Object o) {
        return ((Number) o).longValue();
    }
}
