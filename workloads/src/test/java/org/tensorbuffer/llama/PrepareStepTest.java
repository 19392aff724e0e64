package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.metal.VulkanDevice;

/** {@link Transformer#prepareStep()}: the step's first real run finds its descriptor sets made and computes the same. */
class PrepareStepTest {
    private static int[] decode(String device, AllocationStrategy s, boolean prepare, long[] setsInFirstStep)
            throws Exception {
        try (Checkpoint ck = Checkpoint.open(TestModels.stories());
             TensorContext ctx = TensorContext.create(Devices.get(device), s);
             Transformer t = Transformer.load(ck, ctx, "stories260K.bin")) {
            if (s == AllocationStrategy.PROACTIVE) {
                t.reserve();
            }
            assertThatThrownBy(t::prepareStep).hasMessageContaining("allocateCache() before prepareStep()");
            t.allocateCache();
            if (prepare) {
                int made = t.prepareStep();
                if (ctx.device() instanceof VulkanDevice) {
                    assertThat(made).as("descriptor sets made ahead on %s", device).isPositive();
                } else {
                    assertThat(made).as("nothing to prepare on %s", device).isZero();
                }
            }
            int[] ids = new int[12];
            int tok = Tokenizer.BOS;
            for (int pos = 0; pos < ids.length; pos++) {
                long before = ctx.device() instanceof VulkanDevice v ? v.descriptorSetsCreated() : 0;
                try (Tensor logits = t.forward(tok, pos)) {
                    tok = (int) logits.argmax();
                }
                if (pos == 0 && ctx.device() instanceof VulkanDevice v) {
                    setsInFirstStep[0] = v.descriptorSetsCreated() - before;
                }
                ids[pos] = tok;
            }
            return ids;
        }
    }

    @Test
    void aPreparedProactiveStepMakesNoDescriptorSetAndDecodesTheSame() throws Exception {
        for (String d : PrefillTest.devices()) {
            long[] reactiveSets = {-1};
            long[] preparedSets = {-1};
            int[] reactive = decode(d, AllocationStrategy.REACTIVE, false, reactiveSets);
            int[] prepared = decode(d, AllocationStrategy.PROACTIVE, true, preparedSets);
            assertThat(prepared).as(d).containsExactly(reactive);
            if (!d.equals("cpu")) {
                assertThat(reactiveSets[0]).as("%s: reactive's first step makes its sets", d).isPositive();
                assertThat(preparedSets[0]).as("%s: the prepared first step makes none", d).isZero();
            }
        }
    }
}
