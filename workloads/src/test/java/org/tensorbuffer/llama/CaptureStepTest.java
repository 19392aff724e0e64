package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;

/**
 * {@link Transformer#captureStep()}: a replayed step gives the eager {@link Transformer#forward}'s logits and ids at
 * every position, takes no device memory, rejects positions outside the cache, and is absent on devices that do not
 * capture; {@link Generator} decodes the same ids with it as every other strategy.
 */
class CaptureStepTest {
    private static String vulkan() {
        for (DeviceStatus d : Devices.available()) {
            if (d.available() && d.id().equals("vulkan")) {
                return d.id();
            }
        }
        Assumptions.assumeTrue(false, "Vulkan unavailable here");
        return null;
    }

    @Test
    void replayEqualsEagerForwardAtEveryPosition() throws Exception {
        String dev = vulkan();
        try (Checkpoint ck = Checkpoint.open(TestModels.stories());
             TensorContext eagerCtx = TensorContext.create(Devices.get(dev), AllocationStrategy.REACTIVE);
             Transformer eager = Transformer.load(ck, eagerCtx, "eager");
             TensorContext ctx = TensorContext.create(Devices.get(dev), AllocationStrategy.PROACTIVE);
             Transformer t = Transformer.load(ck, ctx, "captured")) {
            t.reserve();
            t.allocateCache();
            eager.allocateCache();
            long raw = ctx.rawAllocations();
            long misses = ctx.tensorBuffer().stats().misses();
            try (CapturedStep step = t.captureStep().orElseThrow()) {
                assertThat(step.commands()).as("the step's kernels and copies, recorded once").isGreaterThan(50);
                assertThat(ctx.tensorBuffer().stats().misses()).as("the step's blocks held from the reservations")
                        .isEqualTo(misses + 1); // the input tensor, the only shape not in the plan
                long rawAfterCapture = ctx.rawAllocations();
                assertThat(rawAfterCapture - raw).as("only the 3-int input tensor").isEqualTo(1);
                long m0 = ctx.tensorBuffer().stats().misses();
                ctx.tensorBuffer().take(org.tensorbuffer.types.Shape.of(t.config().dim()),
                        org.tensorbuffer.types.DType.F32).release();
                assertThat(ctx.tensorBuffer().stats().misses()).as("no reserved [dim] block is free for anyone else")
                        .isEqualTo(m0 + 1);
                rawAfterCapture = ctx.rawAllocations();
                int tok = Tokenizer.BOS;
                int tokEager = Tokenizer.BOS;
                for (int pos = 0; pos < 16; pos++) {
                    float[] got = step.run(tok, pos).toFloatArray();
                    int next = step.next();
                    try (Tensor logits = eager.forward(tokEager, pos)) {
                        float[] want = logits.toFloatArray();
                        for (int i = 0; i < want.length; i++) {
                            assertThat(got[i]).as("pos %d logit %d", pos, i).isCloseTo(want[i], within(1e-5f));
                        }
                        tokEager = (int) logits.argmax();
                    }
                    assertThat(next).as("pos %d id", pos).isEqualTo(tokEager);
                    tok = next;
                }
                assertThat(ctx.rawAllocations()).as("replays allocate nothing").isEqualTo(rawAfterCapture);
                assertThatThrownBy(() -> step.run(1, 512)).isInstanceOf(IndexOutOfBoundsException.class)
                        .hasMessage("position 512 outside [0, seq_len 512)");
                assertThatThrownBy(() -> step.run(-1, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                        .hasMessage("token -1 outside [0, 512)");
            }
        }
    }

    @Test
    void noCaptureOnDevicesThatRunEagerly() throws Exception {
        for (String d : new String[] {"cpu", "meta"}) {
            try (Checkpoint ck = Checkpoint.open(TestModels.stories());
                 TensorContext ctx = TensorContext.create(Devices.get(d), AllocationStrategy.PROACTIVE);
                 Transformer t = Transformer.load(ck, ctx, "m")) {
                assertThatThrownBy(t::captureStep).hasMessage("allocateCache() before captureStep()");
                t.reserve();
                t.allocateCache();
                long raw = ctx.rawAllocations();
                Optional<CapturedStep> s = t.captureStep();
                assertThat(s).as(d).isEmpty();
                assertThat(ctx.rawAllocations()).as("%s: nothing allocated for it", d).isEqualTo(raw);
                assertThat(ctx.tensorBuffer().stats().liveBytes()).as("%s: nothing kept", d)
                        .isEqualTo(2L * t.config().nLayers() * t.cacheShape().elementCount() * 4);
            }
        }
    }

    @Test
    void generatorDecodesTheSameIdsWithTheCapturedStep() throws Exception {
        String dev = vulkan();
        int[] prompt = {Tokenizer.BOS};
        for (float temperature : new float[] {0f, 1f}) {
            int[][] ids = new int[2][];
            AllocationStrategy[] strategies = {AllocationStrategy.REACTIVE, AllocationStrategy.PROACTIVE};
            for (int i = 0; i < 2; i++) {
                try (Checkpoint ck = Checkpoint.open(TestModels.stories());
                     TensorContext ctx = TensorContext.create(Devices.get(dev), strategies[i]);
                     Transformer t = Transformer.load(ck, ctx, "m")) {
                    DecodeStats st = Generator.generate(t, new Sampler(t.config().vocabSize(), temperature, 0.9f, 7),
                            prompt, 40, null);
                    ids[i] = st.ids();
                    if (strategies[i] == AllocationStrategy.PROACTIVE) {
                        assertThat(st.rawAllocsFirst()).as("first step allocations").isZero();
                        assertThat(st.rawAllocsSteady()).isZero();
                        assertThat(ctx.tensorBuffer().stats().liveBytes()).as("held blocks given back: the cache's")
                                .isEqualTo(2L * t.config().nLayers() * t.cacheShape().elementCount() * 4);
                    }
                }
            }
            assertThat(ids[0]).as("temperature %s", temperature).hasSizeGreaterThan(5);
            assertThat(ids[1]).as("temperature %s", temperature).containsExactly(ids[0]);
        }
    }
}
