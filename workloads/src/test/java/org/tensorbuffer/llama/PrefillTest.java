package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.ShapeBuckets;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.observe.MemoryRecording;

/**
 * Batched prefill against token-by-token prefill (the reference: run.c's loop, tested against run.c's ids elsewhere)
 * on the CPU device and every other available device (Vulkan on lavapipe here), on the bundled models and a random
 * grouped-query checkpoint; the batched kernels against a scalar reference; the prefill's buffer replay against the
 * live buffers of a real prefill.
 */
class PrefillTest {
    @TempDir
    static Path tmp;

    /** cpu, then every other available device. */
    static List<String> devices() {
        List<String> ids = new ArrayList<>(List.of("cpu"));
        for (DeviceStatus d : Devices.available()) {
            if (d.available() && !d.id().equals("cpu") && !d.id().equals("meta")) { // meta computes nothing
                ids.add(d.id());
            }
        }
        return ids;
    }

    private static int[] randomPrompt(Config c, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[n];
        p[0] = Tokenizer.BOS;
        for (int i = 1; i < n; i++) {
            p[i] = 3 + r.nextInt(c.vocabSize() - 3);
        }
        return p;
    }

    /** Last-position logits and both caches after a batched prefill and after token-by-token forwards agree. */
    private static void assertPrefillMatchesForward(Path model, String device, int[] prompt, int startPos)
            throws IOException {
        try (Checkpoint ck = Checkpoint.open(model);
             TensorContext ctx = TensorContext.create(Devices.get(device), AllocationStrategy.REACTIVE);
             Transformer a = Transformer.load(ck, ctx, "a");
             Transformer b = Transformer.load(ck, ctx, "b")) {
            a.allocateCache();
            b.allocateCache();
            float[] expected = null;
            // positions before startPos filled the same way in both
            for (int pos = 0; pos < startPos; pos++) {
                a.forward(1 + pos, pos).close();
                b.forward(1 + pos, pos).close();
            }
            for (int i = 0; i < prompt.length; i++) {
                try (Tensor logits = b.forward(prompt[i], startPos + i)) {
                    expected = logits.toFloatArray();
                }
            }
            float[] actual;
            try (Tensor logits = a.prefill(prompt, startPos)) {
                assertThat(logits.shape()).isEqualTo(Shape.of(ck.config().vocabSize()));
                actual = logits.toFloatArray();
            }
            assertClose(actual, expected, 1e-4, model + " on " + device + " logits");
            assertThat(argmax(actual)).as("greedy id").isEqualTo(argmax(expected));
        }
    }

    static void assertClose(float[] actual, float[] expected, double rel, String what) {
        double scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            double tol = rel * Math.max(Math.abs(expected[i]), scale);
            assertThat((double) actual[i]).as("%s[%d]", what, i).isCloseTo(expected[i],
                    org.assertj.core.data.Offset.offset(tol));
        }
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void batchedPrefillMatchesTokenByTokenOnTheBundledModels() throws IOException {
        for (String d : devices()) {
            try (Checkpoint ck = Checkpoint.open(TestModels.stories())) {
                assertPrefillMatchesForward(TestModels.stories(), d, randomPrompt(ck.config(), 40, 7), 0);
            }
            Tokenizer tok = Tokenizer.load(TestModels.aidreamsTokenizer(), 512);
            assertPrefillMatchesForward(TestModels.aidreams(), d, tok.encode("Once upon a time", true, false), 0);
            // a continuation prefill after cached positions (startPos > 0)
            assertPrefillMatchesForward(TestModels.aidreams(), d, new int[] {5, 77, 300}, 9);
        }
    }

    @Test
    void batchedPrefillMatchesTokenByTokenOnARandomGroupedQueryCheckpoint() throws Exception {
        Path m = RandomCheckpoints.write(tmp, "gqa", "--shape", "gqa38M", "--dim", "128", "--hidden", "256",
                "--layers", "2", "--heads", "8", "--kv-heads", "2", "--vocab", "512", "--seq-len", "48", "--seed", "3");
        try (Checkpoint ck = Checkpoint.open(m)) {
            assertThat(ck.config().sharedClassifier()).isFalse();
            assertThat(ck.config().kvDim()).isEqualTo(32);
            for (String d : devices()) {
                assertPrefillMatchesForward(m, d, randomPrompt(ck.config(), 30, 11), 0);
            }
        }
    }

    @Test
    void generateGivesTheSameIdsBatchedAndTokenByToken() throws IOException {
        for (String d : devices()) {
            for (AllocationStrategy s : AllocationStrategy.values()) {
                DecodeRequest r = new DecodeRequest(TestModels.aidreams(), TestModels.aidreamsTokenizer(),
                        "Once upon a time", d.equals("cpu") ? 128 : 24, 0f, 0.9f, 1, d, s);
                DecodeStats batched = DecodeRun.run(r, null, MemoryRecording.none(), PrefillMode.BATCHED).stats();
                DecodeStats token = DecodeRun.run(r, null, MemoryRecording.none(), PrefillMode.TOKEN).stats();
                assertThat(batched.ids()).as("%s %s", d, s).containsExactly(token.ids());
                assertThat(batched.ids()).containsExactly(Arrays.copyOf(
                        TestModels.ids("aidreams260K-greedy-128-once.ids"), batched.ids().length));
                assertThat(batched.batchedPrefill()).isTrue();
                assertThat(token.batchedPrefill()).isFalse();
                assertThat(batched.prefillTokens()).isEqualTo(13);
                assertThat(token.prefillTokens()).isEqualTo(13);
                assertThat(batched.tokens()).isEqualTo(token.tokens());
                if (s == AllocationStrategy.PROACTIVE) {
                    assertThat(batched.prefillRawAllocs()).as("reserved before the prefill").isZero();
                    assertThat(batched.decodeRawAllocs()).isZero();
                }
                if (s == AllocationStrategy.NONE) {
                    // one device allocation per tensor: the batched prefill makes far fewer than 13 forwards
                    assertThat(batched.prefillRawAllocs()).isLessThan(token.prefillRawAllocs() / 5);
                }
            }
        }
        // the README example prints the same text with either prefill
        DecodeRequest readme = new DecodeRequest(TestModels.aidreams(), TestModels.aidreamsTokenizer(),
                "Once upon a time", 128, 0f, 0.9f, 1, "cpu", AllocationStrategy.PROACTIVE);
        for (PrefillMode mode : PrefillMode.values()) {
            DecodeRun.Result res = DecodeRun.run(readme, null, null, mode);
            int[] all = new int[12 + res.stats().ids().length];
            System.arraycopy(res.promptTokens(), 1, all, 0, 12);
            System.arraycopy(res.stats().ids(), 0, all, 12, res.stats().ids().length);
            assertThat(res.tokenizer().decodeAll(Tokenizer.BOS, all))
                    .startsWith("Once upon a time, pixels unfolding like petals.");
        }
    }

    @Test
    void stepsShorterThanThePromptStopInsideIt() throws IOException {
        DecodeRequest r = new DecodeRequest(TestModels.aidreams(), TestModels.aidreamsTokenizer(),
                "Once upon a time", 5, 0f, 0.9f, 1, "cpu", AllocationStrategy.REACTIVE);
        for (PrefillMode mode : PrefillMode.values()) {
            DecodeStats s = DecodeRun.run(r, null, null, mode).stats();
            assertThat(s.tokens()).isEqualTo(5);
            assertThat(s.ids()).isEmpty();
            assertThat(s.prefillTokens()).isEqualTo(5);
        }
    }

    @Test
    void causalAttentionAndRopeRowsMatchAScalarReference() {
        int nHeads = 4;
        int nKv = 2;
        int hs = 8;
        int seqLen = 12;
        int rows = 5;
        int start = 3;
        int dim = nHeads * hs;
        int kvDim = nKv * hs;
        SplittableRandom r = new SplittableRandom(5);
        float[] q = new float[rows * dim];
        float[] kc = new float[seqLen * kvDim];
        float[] vc = new float[seqLen * kvDim];
        for (float[] a : new float[][] {q, kc, vc}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (r.nextDouble() * 2 - 1);
            }
        }
        // reference: run.c's attention per row, in double
        float[] ref = new float[rows * dim];
        for (int t = 0; t < rows; t++) {
            int pos = start + t;
            for (int h = 0; h < nHeads; h++) {
                int g = h / (nHeads / nKv);
                double[] att = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    double s = 0;
                    for (int i = 0; i < hs; i++) {
                        s += q[t * dim + h * hs + i] * kc[p * kvDim + g * hs + i];
                    }
                    att[p] = s / Math.sqrt(hs);
                    max = Math.max(max, att[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) {
                    att[p] = Math.exp(att[p] - max);
                    sum += att[p];
                }
                for (int i = 0; i < hs; i++) {
                    double o = 0;
                    for (int p = 0; p <= pos; p++) {
                        o += att[p] / sum * vc[p * kvDim + g * hs + i];
                    }
                    ref[t * dim + h * hs + i] = (float) o;
                }
            }
        }
        // reference rope: run.c's rotation per row at start + row
        float[] ropeRef = q.clone();
        for (int t = 0; t < rows; t++) {
            for (int i = 0; i < dim; i += 2) {
                int headDim = i % hs;
                double theta = (start + t) / Math.pow(10000.0, headDim / (double) hs);
                float c = (float) Math.cos(theta);
                float s = (float) Math.sin(theta);
                float x0 = ropeRef[t * dim + i];
                float x1 = ropeRef[t * dim + i + 1];
                ropeRef[t * dim + i] = x0 * c - x1 * s;
                ropeRef[t * dim + i + 1] = x0 * s + x1 * c;
            }
        }
        for (String d : devices()) {
            try (TensorContext ctx = TensorContext.create(d, AllocationStrategy.REACTIVE);
                 Tensor tq = ctx.fromArray(q, Shape.of(rows, dim));
                 Tensor tk = ctx.fromArray(kc, Shape.of(seqLen, kvDim));
                 Tensor tv = ctx.fromArray(vc, Shape.of(seqLen, kvDim));
                 Tensor out = Tensor.causalAttention(tq, tk, tv, nHeads, nKv, hs, start)) {
                assertThat(out.shape()).isEqualTo(Shape.of(rows, dim));
                assertClose(out.toFloatArray(), ref, 1e-5, d + " causalAttention");
                tq.ropeRowsInPlace(start, hs);
                assertClose(tq.toFloatArray(), ropeRef, 1e-5, d + " ropeRowsInPlace");
                assertThatThrownBy(() -> Tensor.causalAttention(tq, tk, tv, nHeads, nKv, hs, seqLen - rows + 1))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("startPos 8");
            }
        }
    }

    @Test
    void prefillPlanRecordedOnMetaIsTheOneRecordedOnCpuAndItsLowerBoundIsNonesPeak() throws IOException {
        for (Path model : new Path[] {TestModels.stories(), TestModels.aidreams()}) {
            for (int t : new int[] {2, 17}) {
                try (Checkpoint ck = Checkpoint.open(model)) {
                    ReservationPlan meta = Transformer.recordPrefill(ck, t);
                    assertThat(meta).as("%s T=%d", model, t).isEqualTo(Transformer.recordPrefill(ck, t, "cpu"));
                    try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.NONE);
                         Transformer m = Transformer.load(ck, ctx, "m")) {
                        long weights = ctx.raw().liveBytes();
                        ctx.raw().resetPeak();
                        m.allocateCache();
                        int[] tokens = new int[t];
                        Arrays.fill(tokens, 9);
                        m.prefill(tokens, 0).close();
                        // NONE allocates each tensor's exact bytes; the planner's bound rounds each buffer up to 64
                        long none = ctx.raw().peakLiveBytes() - weights;
                        long bound = Transformer.tracePrefill(ck, t).lowerBound();
                        assertThat(bound).isGreaterThanOrEqualTo(none).isLessThan(none + 64 * meta.bufferCount());
                    }
                }
            }
        }
        // stories260K (dim 64, hidden 172, 8 heads over 4 KV heads, seq_len 512), T = 10: the KV cache (2 per layer)
        // and per shape the most buffers live at once, counted by hand from Transformer.prefill
        try (Checkpoint ck = Checkpoint.open(TestModels.stories())) {
            ReservationPlan p = Transformer.recordPrefill(ck, 10);
            assertThat(p.count(Shape.of(10, 64), DType.F32)).isEqualTo(3);
            assertThat(p.count(Shape.of(10, 32), DType.F32)).isEqualTo(2);
            assertThat(p.count(Shape.of(10, 172), DType.F32)).isEqualTo(3);
            // causal attention scratch: one fixed shape for every prompt length, never [T, nHeads * seqLen]
            assertThat(p.count(Shape.of(64, 8 * 512), DType.F32)).isEqualTo(1);
            assertThat(p.count(Shape.of(10, 8 * 512), DType.F32)).isZero();
            assertThat(p.count(Shape.of(64), DType.F32)).isEqualTo(1);
            assertThat(p.count(Shape.of(512), DType.F32)).isEqualTo(1);
            assertThat(p.count(Shape.of(512, 32), DType.F32)).isEqualTo(10);
        }
    }

    @Test
    void prefillRejectsBadInputsWithoutLeaking() throws IOException {
        try (Checkpoint ck = Checkpoint.open(TestModels.aidreams());
             TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE);
             Transformer t = Transformer.load(ck, ctx, "m")) {
            assertThatThrownBy(() -> t.prefill(new int[] {1, 2}, 0)).isInstanceOf(IllegalStateException.class);
            t.allocateCache();
            long live = ctx.pool().stats().liveBytes();
            assertThatThrownBy(() -> t.prefill(new int[0], 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> t.prefill(new int[] {1, 512}, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("token 512");
            assertThatThrownBy(() -> t.prefill(new int[] {1, 2, 3}, 126)).isInstanceOf(
                    IndexOutOfBoundsException.class).hasMessageContaining("seq_len 128");
            assertThat(ctx.pool().stats().liveBytes()).isEqualTo(live);
        }
    }

    @Test
    void proactiveBucketsServeEveryPromptLengthFromReservations() throws IOException {
        for (String d : devices()) {
            try (Checkpoint ck = Checkpoint.open(TestModels.aidreams());
                 TensorContext ctx = TensorContext.create(d, AllocationStrategy.PROACTIVE);
                 Transformer m = Transformer.load(ck, ctx, "m")) {
                ShapeBuckets b = ShapeBuckets.powersOfTwo(40);
                ctx.shapeBuckets(b);
                m.reserve();
                var made = m.reservePrefill(b, 40);
                assertThat(made).containsKeys(Shape.of(1, 64), Shape.of(32, 64), Shape.of(40, 64))
                        .doesNotContainKey(Shape.of(64, 64));
                m.allocateCache();
                long allocs = ctx.rawAllocations();
                long misses = ctx.tensorBuffer().stats().misses();
                long cacheLive = ctx.tensorBuffer().stats().liveBytes();
                for (int t : new int[] {2, 3, 17, 33, 40}) {
                    int[] tokens = new int[t];
                    Arrays.fill(tokens, 7);
                    try (Tensor logits = m.prefill(tokens, 0)) {
                        assertThat(logits.shape()).isEqualTo(Shape.of(512));
                    }
                }
                assertThat(ctx.rawAllocations()).as(d).isEqualTo(allocs);
                assertThat(ctx.tensorBuffer().stats().misses()).isEqualTo(misses);
                assertThat(ctx.tensorBuffer().stats().liveBytes()).as("only the KV cache").isEqualTo(cacheLive);
            }
        }
    }
}
