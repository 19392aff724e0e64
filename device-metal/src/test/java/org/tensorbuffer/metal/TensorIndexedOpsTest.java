package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The tensor-indexed ops ({@code ropeAt}, {@code attentionAt}, {@code gatherRow}, {@code scatterRow},
 * {@code argmaxInto}) against their int forms on the CPU device (the Kernels defaults: index read to the host) and on
 * the Vulkan device (index read by the shaders): equal results (bit for bit: the same kernels run), and bad indices.
 */
class TensorIndexedOpsTest {
    private final Random rnd = new Random(5);

    private static List<Device> devices() {
        return List.of(Devices.get("cpu"), VulkanTestDevice.get());
    }

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    private static Tensor index(TensorContext ctx, int v) {
        return ctx.fromArray(new int[] {v}, Shape.of(1));
    }

    @Test
    void ropeAtEqualsRope() {
        for (Device d : devices()) {
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
                 Tensor x = ctx.fromArray(random(48), Shape.of(48))) {
                for (int pos : new int[] {0, 1, 7, 300}) {
                    try (Tensor p = index(ctx, pos); Tensor a = x.rope(pos, 16); Tensor b = x.ropeAt(p, 16)) {
                        assertThat(b.toFloatArray()).as("%s pos %d", d.id(), pos).containsExactly(a.toFloatArray());
                    }
                }
            }
        }
    }

    @Test
    void attentionAtEqualsAttention() {
        int nHeads = 4;
        int nKv = 2;
        int hs = 8;
        int seq = 10;
        for (Device d : devices()) {
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
                 Tensor q = ctx.fromArray(random(nHeads * hs), Shape.of(nHeads * hs));
                 Tensor k = ctx.fromArray(random(seq * nKv * hs), Shape.of(seq, nKv * hs));
                 Tensor v = ctx.fromArray(random(seq * nKv * hs), Shape.of(seq, nKv * hs))) {
                for (int pos : new int[] {0, 3, seq - 1}) {
                    try (Tensor p = index(ctx, pos);
                         Tensor a = Tensor.attention(q, k, v, nHeads, nKv, hs, pos);
                         Tensor b = Tensor.attentionAt(q, k, v, nHeads, nKv, hs, p)) {
                        assertThat(b.toFloatArray()).as("%s pos %d", d.id(), pos).containsExactly(a.toFloatArray());
                    }
                }
            }
        }
    }

    @Test
    void gatherAndScatterRowEqualRowCopies() {
        for (Device d : devices()) {
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
                 Tensor table = ctx.fromArray(random(6 * 5), Shape.of(6, 5));
                 Tensor src = ctx.fromArray(random(5), Shape.of(5))) {
                float[] t = table.toFloatArray();
                for (int r : new int[] {0, 2, 5}) {
                    try (Tensor i = index(ctx, r); Tensor row = table.gatherRow(i)) {
                        assertThat(row.shape()).isEqualTo(Shape.of(5));
                        float[] expect = java.util.Arrays.copyOfRange(t, r * 5, r * 5 + 5);
                        assertThat(row.toFloatArray()).as("%s gather %d", d.id(), r).containsExactly(expect);
                    }
                }
                try (Tensor i = index(ctx, 4)) {
                    table.scatterRow(i, src);
                }
                float[] s = src.toFloatArray();
                System.arraycopy(s, 0, t, 20, 5);
                assertThat(table.toFloatArray()).as("%s scatter into row 4 only", d.id()).containsExactly(t);
            }
        }
    }

    @Test
    void argmaxIntoEqualsArgmax() {
        for (Device d : devices()) {
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
                 Tensor x = ctx.fromArray(random(1000), Shape.of(1000));
                 Tensor out = ctx.zeros(Shape.of(3), DType.I32);
                 Tensor slot = out.row(1)) {
                x.argmaxInto(slot);
                assertThat(out.toIntArray()).as(d.id()).containsExactly(0, (int) x.argmax(), 0);
            }
        }
    }

    @Test
    void badIndicesGiveOneLineErrors() {
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE);
             Tensor table = ctx.fromArray(random(12), Shape.of(3, 4));
             Tensor q = ctx.fromArray(random(8), Shape.of(8));
             Tensor bad = index(ctx, 3);
             Tensor neg = index(ctx, -1);
             Tensor f = ctx.fromArray(new float[] {1f}, Shape.of(1));
             Tensor row = q.slice(0, 4);
             Tensor cache = table.slice(0, 3)) {
            long live = ctx.pool().stats().liveBytes();
            assertThatThrownBy(() -> table.gatherRow(bad)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("row index 3 outside [0, 3)");
            assertThatThrownBy(() -> table.scatterRow(neg, row))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessage("row index -1 outside [0, 3)");
            assertThatThrownBy(() -> Tensor.attentionAt(q, cache, cache, 2, 1, 4, bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("attention: position 3 outside [0, 3)");
            assertThatThrownBy(() -> table.gatherRow(f)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gatherRow: the index must be a one-element int32 tensor, got [1] float32");
            assertThat(ctx.pool().stats().liveBytes()).as("nothing leaked by the failed ops").isEqualTo(live);
        }
    }
}
