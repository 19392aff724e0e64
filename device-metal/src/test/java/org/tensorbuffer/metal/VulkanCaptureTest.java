package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.device.StepGraph;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * {@link VulkanDevice#capture}: a captured step replays with the inputs written before each replay and computes what
 * the same ops compute eagerly; host operations inside a capture fail and leave nothing recorded; buffers the graph
 * uses stay allocated until it is closed; devices that do not capture say so.
 */
class VulkanCaptureTest {
    private final Random rnd = new Random(3);

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    private static void write(Tensor t, int... v) {
        t.device().copyFromHost(java.lang.foreign.MemorySegment.ofArray(v), 0, t.buffer(), t.byteOffset(),
                4L * v.length);
    }

    /** A small step: y = rope(table[token], pos) * 2, written to row pos of a cache, and the argmax of y. */
    @Test
    void replayEqualsTheEagerOpsAtEveryInput() {
        VulkanDevice d = VulkanTestDevice.get();
        try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
             Tensor table = ctx.fromArray(random(10 * 32), Shape.of(10, 32));
             Tensor cache = ctx.zeros(Shape.of(6, 32), DType.F32);
             Tensor eagerCache = ctx.zeros(Shape.of(6, 32), DType.F32);
             Tensor inputs = ctx.zeros(Shape.of(3), DType.I32);
             Tensor token = inputs.row(0);
             Tensor pos = inputs.row(1);
             Tensor pick = inputs.row(2);
             Tensor y = ctx.zeros(Shape.of(32), DType.F32)) {
            long submits = d.submitCount();
            Optional<StepGraph> g = d.capture(() -> {
                try (Tensor x = table.gatherRow(token); Tensor r = x.ropeAt(pos, 8); Tensor s = r.scale(2.0)) {
                    cache.scatterRow(pos, s);
                    y.copyFrom(s);
                    y.argmaxInto(pick);
                }
            });
            assertThat(g).isPresent();
            assertThat(d.submitCount()).as("capturing submits nothing of the step").isLessThanOrEqualTo(submits + 1);
            try (StepGraph graph = g.get()) {
                assertThat(graph.commands()).isEqualTo(6);
                int[][] cases = {{3, 0}, {7, 5}, {0, 2}, {9, 1}};
                for (int[] c : cases) {
                    write(inputs, c[0], c[1], -1);
                    graph.replay();
                    float[] got = y.toFloatArray();
                    try (Tensor row = table.row(c[0]); Tensor r = row.rope(c[1], 8); Tensor s = r.scale(2.0);
                         Tensor er = eagerCache.row(c[1])) {
                        er.copyFrom(s);
                        assertThat(got).as("token %d pos %d", c[0], c[1]).containsExactly(s.toFloatArray());
                        assertThat(inputs.toIntArray()[2]).isEqualTo((int) s.argmax());
                    }
                    assertThat(cache.toFloatArray()).containsExactly(eagerCache.toFloatArray());
                }
                // a second replay before reading anything: ordered after the first on the queue
                write(inputs, 4, 3, -1);
                graph.replay();
                graph.replay();
                try (Tensor row = table.row(4); Tensor r = row.rope(3, 8); Tensor s = r.scale(2.0)) {
                    assertThat(y.toFloatArray()).containsExactly(s.toFloatArray());
                }
            }
            assertThatThrownBy(() -> g.get().replay()).isInstanceOf(IllegalStateException.class)
                    .hasMessage("the captured step is closed");
        }
    }

    @Test
    void hostOperationsInsideACaptureFailAndLeaveNothingRecorded() {
        VulkanDevice d = VulkanTestDevice.get();
        try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
             Tensor x = ctx.fromArray(random(16), Shape.of(16))) {
            assertThatThrownBy(() -> d.capture(x::toFloatArray)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("copyToHost inside a capture");
            assertThatThrownBy(() -> d.capture(x::argmax)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("argmax inside a capture returns to the host: use argmaxInto");
            assertThatThrownBy(() -> d.capture(() -> x.copyFrom(new float[16])))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("copyFromHost inside a capture");
            assertThatThrownBy(() -> d.capture(d::synchronize)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("synchronize inside a capture: a captured step cannot wait");
            assertThatThrownBy(() -> d.capture(() -> d.capture(() -> { })))
                    .isInstanceOf(IllegalStateException.class).hasMessage("capture inside a capture on vulkan");
            // the device records and runs eagerly again
            try (Tensor y = x.scale(3.0)) {
                assertThat(y.toFloatArray()[5]).isEqualTo(x.toFloatArray()[5] * 3f);
            }
        }
    }

    @Test
    void aBufferTheGraphUsesIsFreedOnlyWhenTheGraphCloses() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer a = d.allocate(256, 64);
        DeviceBuffer b = d.allocate(256, 64);
        long live = Long.parseLong(d.properties().get("liveBuffers"));
        StepGraph g = d.capture(() -> d.copy(a, 0, b, 0, 256)).orElseThrow();
        d.free(a);
        assertThat(Long.parseLong(d.properties().get("liveBuffers"))).as("held by the open graph").isEqualTo(live);
        assertThatThrownBy(g::replay).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("a buffer the captured step uses was freed");
        g.close();
        assertThat(Long.parseLong(d.properties().get("liveBuffers"))).as("freed at close").isEqualTo(live - 1);
        g.close();
        d.free(b);
    }

    /** With device-local buffers (staging copies), on a fresh device whose rope table is made inside the capture. */
    @Test
    void replaysWithStagingCopies() {
        VulkanTestDevice.get();
        System.setProperty(VulkanDevice.FORCE_STAGING_PROPERTY, "true");
        try (VulkanDevice d = new VulkanDevice("vulkan", org.tensorbuffer.device.DeviceKind.VULKAN);
             TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
             Tensor x = ctx.fromArray(random(16), Shape.of(16));
             Tensor pos = ctx.zeros(Shape.of(1), DType.I32);
             Tensor y = ctx.zeros(Shape.of(16), DType.F32)) {
            assertThat(d.hostVisibleBuffers()).isFalse();
            StepGraph g = d.capture(() -> {
                try (Tensor r = x.ropeAt(pos, 4)) {
                    y.copyFrom(r);
                }
            }).orElseThrow();
            for (int p : new int[] {5, 0, 11}) {
                write(pos, p);
                g.replay();
                try (Tensor r = x.rope(p, 4)) {
                    assertThat(y.toFloatArray()).as("pos %d", p).containsExactly(r.toFloatArray());
                }
            }
            g.close();
        } finally {
            System.clearProperty(VulkanDevice.FORCE_STAGING_PROPERTY);
        }
    }

    @Test
    void devicesThatDoNotCaptureReturnEmpty() {
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE)) {
            boolean[] ran = {false};
            assertThat(ctx.device().capture(() -> ran[0] = true)).isEmpty();
            assertThat(ran[0]).as("the default does not run the step").isFalse();
        }
        assertThat(Devices.get("meta").capture(() -> { })).isEmpty();
    }
}
