package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/** Descriptor sets cached per tuple of bindings, freed with their buffers, and made ahead by {@code prepare}. */
class DescriptorCacheTest {
    private static final int N = 300;

    private static DeviceBuffer upload(VulkanDevice d, float base) {
        MemorySegment h = Arena.ofAuto().allocate(4L * N);
        for (int i = 0; i < N; i++) {
            h.setAtIndex(ValueLayout.JAVA_FLOAT, i, base + i);
        }
        DeviceBuffer b = d.allocate(4L * N, 64);
        d.copyFromHost(h, 0, b, 0, 4L * N);
        return b;
    }

    private static float[] download(VulkanDevice d, DeviceBuffer b) {
        MemorySegment h = Arena.ofAuto().allocate(4L * N);
        d.copyToHost(b, 0, h, 0, 4L * N);
        return h.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** out = a + b elementwise, checked against the host sum {@code 2 * base + 2 * i}. */
    private static void assertSum(float[] out, float baseA, float baseB) {
        for (int i = 0; i < N; i++) {
            assertThat(out[i]).as("element %d", i).isEqualTo(baseA + i + baseB + i);
        }
    }

    @Test
    void aDispatchWithSeenBindingsMakesNoSetAndAFreedBufferDropsItsSets() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer a = upload(d, 1);
        DeviceBuffer b = upload(d, 1000);
        DeviceBuffer out = d.allocate(4L * N, 64);
        long c0 = d.descriptorSetsCreated();
        d.kernels().binary(BinaryOp.ADD, DType.F32, a, 0, b, 0, out, 0, N);
        assertThat(d.descriptorSetsCreated() - c0).isEqualTo(1);
        d.kernels().binary(BinaryOp.ADD, DType.F32, a, 0, b, 0, out, 0, N);
        assertThat(d.descriptorSetsCreated() - c0).as("same bindings: the cached set").isEqualTo(1);
        d.kernels().binary(BinaryOp.ADD, DType.F32, b, 0, a, 0, out, 0, N);
        assertThat(d.descriptorSetsCreated() - c0).as("other bindings: a new set").isEqualTo(2);
        assertSum(download(d, out), 1, 1000);
        int cached = d.batcher().descriptors().size();
        d.free(b);
        assertThat(d.batcher().descriptors().size()).as("both sets bind b").isEqualTo(cached - 2);
        // a new buffer (which may reuse b's memory and handle value) gets a new set and the right result
        DeviceBuffer b2 = upload(d, 5000);
        long c1 = d.descriptorSetsCreated();
        d.kernels().binary(BinaryOp.ADD, DType.F32, a, 0, b2, 0, out, 0, N);
        assertThat(d.descriptorSetsCreated() - c1).isEqualTo(1);
        assertSum(download(d, out), 1, 5000);
        d.free(a);
        d.free(b2);
        d.free(out);
    }

    @Test
    void prepareMakesTheStepsSetsAndDoesNoWork() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer a = upload(d, 2);
        DeviceBuffer b = upload(d, 300);
        DeviceBuffer out = upload(d, -7);
        Runnable step = () -> {
            d.kernels().binary(BinaryOp.ADD, DType.F32, a, 0, b, 0, out, 0, N);
            d.copy(a, 0, b, 0, 4L * N);
            d.kernels().scale(DType.F32, out, 0, out, 0, N, 1.0);
            d.kernels().argmax(DType.F32, out, 0, N);
        };
        d.synchronize();
        long commands = d.commandCount();
        long c0 = d.descriptorSetsCreated();
        int made = d.prepare(step);
        assertThat(made).isEqualTo(3).isEqualTo(d.descriptorSetsCreated() - c0);
        assertThat(d.commandCount()).as("nothing recorded").isEqualTo(commands);
        assertThat(download(d, out)[5]).as("out untouched").isEqualTo(-7 + 5);
        assertThat(download(d, b)[5]).as("copy not done").isEqualTo(300 + 5);
        long c1 = d.descriptorSetsCreated();
        step.run();
        assertThat(d.descriptorSetsCreated()).as("the real run finds its sets made").isEqualTo(c1);
        assertSum(download(d, out), 2, 300);
        assertThat(d.prepare(step)).as("nothing left to make").isZero();
        assertThatThrownBy(() -> d.prepare(() -> d.prepare(step))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("inside prepare");
        // after a prepare the thread works as usual again
        d.kernels().binary(BinaryOp.ADD, DType.F32, a, 0, a, 0, out, 0, N);
        assertSum(download(d, out), 2, 2);
        d.free(a);
        d.free(b);
        d.free(out);
    }
}
