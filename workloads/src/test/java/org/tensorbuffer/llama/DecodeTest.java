package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.ReservationPlan;

/**
 * End-to-end decodes of the bundled checkpoints against token ids produced by llama2.c's run.c
 * (workloads/scripts/llama2c-expected-ids.sh), and the allocation behaviour of each strategy.
 */
class DecodeTest {
    private static final Map<AllocationStrategy, DecodeStats> GREEDY = new EnumMap<>(AllocationStrategy.class);

    @BeforeAll
    static void decodeStoriesUnderEveryStrategy() throws IOException {
        for (AllocationStrategy s : new AllocationStrategy[] {
            AllocationStrategy.NONE, AllocationStrategy.REACTIVE, AllocationStrategy.PROACTIVE}) {
            GREEDY.put(s, DecodeRun.run(DecodeRequest.greedy(TestModels.stories(), 256, s), null).stats());
        }
    }

    @Test
    void stories260KGreedy256StepsGivesRunCIdsUnderEveryStrategy() {
        int[] expected = TestModels.ids("stories260K-greedy-256.ids");
        assertThat(expected).hasSize(256);
        GREEDY.forEach((s, st) -> {
            assertThat(st.tokens()).as("%s positions", s).isEqualTo(256);
            assertThat(st.ids()).as("%s ids", s).containsExactly(expected);
        });
    }

    @Test
    void proactiveMakesNoDeviceAllocationAfterTheFirstToken() {
        DecodeStats p = GREEDY.get(AllocationStrategy.PROACTIVE);
        assertThat(p.rawAllocsSteady()).isZero();
        assertThat(p.rawAllocsPerTokenSteady()).isZero();
        assertThat(p.tensorBufferHitRate()).isGreaterThanOrEqualTo(0.99);
        // Everything was reserved, so not even the first step missed and the pool was never asked.
        assertThat(p.tensorBufferHits()).isEqualTo(p.tensorBufferRequests());
        assertThat(p.poolRequests()).isZero();
        // Weights (5 layers x 6 + 2 learnable tensors: per layer two norms, wo, w2 and the stacked wqkv and w13) and
        // the recorded plan (10 KV tensors and 10 activation buffers: 3 + 1 + 1 + 1 + 2 + 1 + 1, see
        // recordedPlanOfStories260K), nothing else; none in the first step.
        assertThat(p.rawAllocsTotal()).isEqualTo(5 * 6 + 2 + 10 + 10);
        assertThat(p.rawAllocsFirst()).isZero();
        assertThat(GREEDY.get(AllocationStrategy.REACTIVE).rawAllocsFirst()).isPositive();
        assertThat(p.lowerBoundBytes()).isEqualTo(GREEDY.get(AllocationStrategy.REACTIVE).lowerBoundBytes())
                .isPositive();
    }

    @Test
    void reactiveHitsThePoolAfterTheFirstToken() {
        DecodeStats r = GREEDY.get(AllocationStrategy.REACTIVE);
        assertThat(r.poolHitRateSteady()).isGreaterThanOrEqualTo(0.99);
        assertThat(r.rawAllocsSteady()).isZero();
        assertThat(r.poolRequestsSteady()).isGreaterThan(255L * 50);
        assertThat(r.tensorBufferRequests()).isZero();
    }

    @Test
    void noneAllocatesEveryActivation() {
        DecodeStats n = GREEDY.get(AllocationStrategy.NONE);
        // Per step: x, 5 layers x 12 op outputs (xb, qkv, q and k rotated, attention output and its scratch, o, xb,
        // h13, silu, product, w2's output), final norm, logits.
        assertThat(n.rawAllocsPerTokenSteady()).isEqualTo(1 + 5 * 12 + 2);
        assertThat(n.poolRequests()).isZero();
        assertThat(n.peakReservedBytes())
                .isLessThanOrEqualTo(GREEDY.get(AllocationStrategy.REACTIVE).peakReservedBytes());
    }

    @Test
    void recordedPlanOfStories260K() throws IOException {
        // stories260K: dim 64, hidden 172, kvDim 32, 8 heads, seq_len 512, vocab 512, 5 layers. Live at once at most:
        // x, xb/q-rotated/attention-output/o (3 of [64]); the stacked q/k/v product (one [128], q, k and v are views
        // of it); k-rotated (one [32]); the stacked w1/w3 product (one [344], h1 and h3 are views of it); silu and
        // the product (2 of [172]); the attention scratch [8, 512]; the logits [512]; and the KV cache, 2 x 5 of
        // [512, 32].
        try (Checkpoint ck = Checkpoint.open(TestModels.stories())) {
            ReservationPlan plan = Transformer.recordStep(ck);
            assertThat(plan).isEqualTo(ReservationPlan.of(Map.of(Shape.of(64), 3, Shape.of(128), 1,
                    Shape.of(32), 1, Shape.of(344), 1, Shape.of(172), 2, Shape.of(8, 512), 1, Shape.of(512), 1,
                    Shape.of(512, 32), 10), DType.F32));
        }
    }

    @Test
    void aPlanRecordedOnMetaEqualsOneRecordedOnCpu() throws IOException {
        for (Path model : new Path[] {TestModels.stories(), TestModels.aidreams()}) {
            try (Checkpoint ck = Checkpoint.open(model)) {
                assertThat(Transformer.recordStep(ck, "meta")).as(model.toString())
                        .isEqualTo(Transformer.recordStep(ck, "cpu"));
            }
        }
    }

    @Test
    void afterReservingTheRecordedPlanNoStepMisses() throws IOException {
        for (Path model : new Path[] {TestModels.stories(), TestModels.aidreams()}) {
            try (Checkpoint ck = Checkpoint.open(model);
                 TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PROACTIVE);
                 Transformer t = Transformer.load(ck, ctx, "m")) {
                ReservationPlan plan = t.reserve();
                assertThat(t.reserve().size()).isZero();
                long allocs = ctx.rawAllocations();
                t.allocateCache();
                for (int pos = 0; pos < 4; pos++) {
                    t.forward(pos + 1, pos).close();
                }
                assertThat(ctx.rawAllocations()).as(model.toString()).isEqualTo(allocs);
                assertThat(ctx.tensorBuffer().stats().misses()).isZero();
                assertThat(ctx.tensorBuffer().stats().reservedBlocks()).isEqualTo(plan.bufferCount());
            }
        }
    }

    @Test
    void samplingReproducesRunCWithTheSameSeed() throws IOException {
        DecodeRequest a = new DecodeRequest(TestModels.stories(), null, "", 200, 0.8f, 0.9f, 42, "cpu",
                AllocationStrategy.PROACTIVE);
        assertThat(DecodeRun.run(a, null).stats().ids())
                .containsExactly(TestModels.ids("stories260K-t0.8-p0.9-s42-200.ids"));
        DecodeRequest b = new DecodeRequest(TestModels.stories(), null, "", 100, 1.0f, 1.0f, 7, "cpu",
                AllocationStrategy.REACTIVE);
        assertThat(DecodeRun.run(b, null).stats().ids()).containsExactly(TestModels.ids("stories260K-t1.0-s7-100.ids"));
    }

    @Test
    void aidreamsPromptGreedy() throws IOException {
        DecodeRequest r = new DecodeRequest(TestModels.aidreams(), TestModels.aidreamsTokenizer(), "Once upon a time",
                128, 0f, 0.9f, 1, "cpu", AllocationStrategy.PROACTIVE);
        DecodeRun.Result res = DecodeRun.run(r, null);
        assertThat(res.promptTokens()).hasSize(13);
        assertThat(res.stats().ids()).containsExactly(TestModels.ids("aidreams260K-greedy-128-once.ids"));
        int[] all = new int[12 + res.stats().ids().length];
        System.arraycopy(res.promptTokens(), 1, all, 0, 12);
        System.arraycopy(res.stats().ids(), 0, all, 12, res.stats().ids().length);
        String decoded = res.tokenizer().decodeAll(Tokenizer.BOS, all);
        assertThat(decoded).startsWith("Once upon a time, pixels unfolding like petals.")
                .isEqualTo(TestModels.resource("aidreams260K-greedy-128-once.txt").stripTrailing());
    }

    @Test
    void otherDevicesGiveTheSameIds() throws IOException {
        // Device-neutral code: wherever a GPU-class backend is available (Vulkan on lavapipe in CI), the same ids.
        int[] expected = Arrays.copyOf(TestModels.ids("aidreams260K-greedy-128-once.ids"), 12);
        int checked = 0;
        for (DeviceStatus d : Devices.available()) {
            if (!d.available() || d.id().equals("cpu") || d.id().equals("meta")) { // meta computes nothing
                continue;
            }
            DecodeRequest r = new DecodeRequest(TestModels.aidreams(), TestModels.aidreamsTokenizer(),
                    "Once upon a time", 24, 0f, 0.9f, 1, d.id(), AllocationStrategy.PROACTIVE);
            DecodeStats st = DecodeRun.run(r, null).stats();
            assertThat(st.ids()).as(d.id()).containsExactly(expected);
            assertThat(st.rawAllocsSteady()).as(d.id()).isZero();
            checked++;
        }
        Assumptions.assumeTrue(checked > 0, "no device other than cpu is available here");
    }

    @Test
    void stepsBeyondSeqLenAndBadInputsAreClearErrors() {
        assertThatThrownBy(() -> DecodeRun.run(DecodeRequest.greedy(TestModels.aidreams(), 129,
                AllocationStrategy.PROACTIVE), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("aidreams260K.bin").hasMessageContaining("seq_len 128")
                .hasMessageContaining("steps 129");
        assertThatThrownBy(() -> DecodeRun.run(new DecodeRequest(TestModels.stories(), null, "hello", 10, 0f, 0.9f,
                1, "cpu", AllocationStrategy.NONE), null)).hasMessageContaining("needs a tokenizer");
        assertThatThrownBy(() -> DecodeRun.run(new DecodeRequest(TestModels.aidreams(), TestModels.stories(), "",
                10, 0f, 0.9f, 1, "cpu", AllocationStrategy.NONE), null)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("stories260K.bin");
    }

    @Test
    void forwardRejectsBadTokenAndPosition() throws IOException {
        try (Checkpoint ck = Checkpoint.open(TestModels.aidreams());
             TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE);
             Transformer t = Transformer.load(ck, ctx, "m")) {
            assertThatThrownBy(() -> t.forward(1, 0)).isInstanceOf(IllegalStateException.class);
            t.allocateCache();
            long cacheBytes = ctx.pool().stats().liveBytes();
            assertThat(cacheBytes).isGreaterThanOrEqualTo(8L * 128 * 64 * 4);
            assertThatThrownBy(() -> t.forward(512, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("token 512");
            assertThatThrownBy(() -> t.forward(1, 128)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("seq_len 128");
            assertThat(ctx.pool().stats().liveBytes()).as("nothing leaked by the failed calls").isEqualTo(cacheBytes);
        }
    }
}
