package org.tensorbuffer.llama;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.ShapeBuckets;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.plan.PlanStats;

/**
 * A serving-like workload with dynamic shapes: {@code N} generation requests of varying prompt and generation length
 * run one after another through one {@link TensorContext} (one BufferPool, TensorBuffer and planner for all of them),
 * greedy, each prompt through {@link Transformer#prefill} (or token by token), so that every shape that depends on
 * the prompt length {@code T} changes from request to request. Each strategy copes in its own way:
 * <ul>
 *   <li>NONE and REACTIVE as always (a device allocation per tensor; the BufferPool's size classes);</li>
 *   <li>PROACTIVE: {@link ShapeBuckets#powersOfTwo shape buckets} up to the longest prompt the workload may draw,
 *       each bucket's prefill buffers {@link Transformer#reservePrefill reserved} before the first request, besides
 *       {@link Transformer#reserve() the decode step's};</li>
 *   <li>PLANNED: one plan per shape signature ({@link Transformer#planCache()}); with batched prefill the prompt's
 *       signature is its bucket (the same {@link ShapeBuckets#powersOfTwo buckets}, tensors at bucket shapes), and
 *       every bucket's plan is made before the first request from a trace on the {@code meta} device
 *       ({@link Transformer#planPrefill}); the decode step's plan is recorded on its first run; the pool serves
 *       recordings and divergences.</li>
 * </ul>
 *
 * <p>Not thread-safe.
 */
public final class RequestWorkload {
    /** Requests whose allocations count as warm-up in {@link Stats#rawAllocsAfterWarmup()}. */
    public static final int WARMUP_REQUESTS = 8;

    private RequestWorkload() {
    }

    /**
     * One request: the encoded prompt (BOS first) and the positions to run, prompt included.
     *
     * @param prompt the prompt's token ids, BOS first
     * @param steps  positions to run, {@code prompt.length..seqLen}
     */
    public record Request(int[] prompt, int steps) {
        /** Tokens to generate at most ({@code steps - prompt.length + 1}: the prompt's last position samples). */
        public int maxNewTokens() {
            return steps - prompt.length + 1;
        }
    }

    /**
     * Draws {@code n} requests with {@code seed}: prompt lengths uniform in {@code [1, maxPrompt]} (BOS then random
     * token ids in {@code [3, vocabSize)}, avoiding the unknown, BOS and EOS ids of llama2.c tokenizers), new tokens
     * uniform in {@code [1, maxNew]}, positions capped at {@code seqLen}. The same arguments give the same requests.
     *
     * @throws IllegalArgumentException if {@code n < 1}, {@code maxPrompt} is outside {@code [1, seqLen]} or
     *                                  {@code maxNew < 1}
     */
    public static List<Request> draw(Config c, int n, long seed, int maxPrompt, int maxNew) {
        if (n < 1) {
            throw new IllegalArgumentException("--requests must be >= 1, got " + n);
        }
        if (maxPrompt < 1 || maxPrompt > c.seqLen()) {
            throw new IllegalArgumentException("maximum prompt length " + maxPrompt + " is outside [1, seq_len "
                    + c.seqLen() + "]");
        }
        if (maxNew < 1) {
            throw new IllegalArgumentException("maximum new tokens must be >= 1, got " + maxNew);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Request> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int len = 1 + rnd.nextInt(maxPrompt);
            int[] p = new int[len];
            p[0] = Tokenizer.BOS;
            for (int j = 1; j < len; j++) {
                p[j] = c.vocabSize() > 3 ? 3 + rnd.nextInt(c.vocabSize() - 3) : rnd.nextInt(c.vocabSize());
            }
            int gen = 1 + rnd.nextInt(maxNew);
            out.add(new Request(p, Math.min(c.seqLen(), len - 1 + gen)));
        }
        return out;
    }

    /** Defaults of {@link #draw}: prompts of up to {@code seqLen / 2} tokens, up to {@code seqLen / 2} new tokens. */
    public static List<Request> draw(Config c, int n, long seed) {
        int half = Math.max(1, c.seqLen() / 2);
        return draw(c, n, seed, half, half);
    }

    /**
     * What one strategy measured over the whole workload.
     *
     * @param strategy             the strategy
     * @param device               the device id
     * @param config               the model's hyperparameters
     * @param requests             requests run
     * @param prefillTokens        prompt positions run in prefill phases, all requests together
     * @param prefillNanos         wall time of the prefill phases
     * @param decodeTokens         positions run after the prefill phases
     * @param decodeNanos          wall time after the prefill phases
     * @param rawAllocsTotal       device allocations from the context's creation on (weights and reservations
     *                             included)
     * @param rawAllocsAfterWarmup device allocations after the first {@link #WARMUP_REQUESTS} requests
     * @param poolRequests         BufferPool requests during the requests
     * @param poolHits             of which served from its cache
     * @param tensorBufferRequests TensorBuffer takes during the requests
     * @param tensorBufferHits     of which served from a reservation
     * @param plan                 the planner's counters (PLANNED; zeros otherwise)
     * @param plans                distinct shape signatures planned (PLANNED)
     * @param peakReservedBytes    sum of each allocator's high-water mark of bytes held from the device (weights,
     *                             KV cache, reservations, pool, arena)
     * @param peakLiveBytes        sum of each allocator's high-water mark of bytes handed out
     * @param lowerBoundBytes      the liveness lower bound: weights + the largest KV cache and activation bytes live at
     *                             once in any forward of the workload (the planner's lower bound of a step or prefill
     *                             recorded on the {@code meta} device: {@link Transformer#traceStep},
     *                             {@link Transformer#tracePrefill})
     * @param ids                  each request's sampled ids
     */
    public record Stats(AllocationStrategy strategy, String device, Config config, int requests, long prefillTokens,
                        long prefillNanos, long decodeTokens, long decodeNanos, long rawAllocsTotal,
                        long rawAllocsAfterWarmup, long poolRequests, long poolHits, long tensorBufferRequests,
                        long tensorBufferHits, PlanStats plan, int plans, long peakReservedBytes, long peakLiveBytes,
                        long lowerBoundBytes, List<int[]> ids) {

        /** Prompt positions per second of prefill. */
        public double prefillTokensPerSecond() {
            return prefillNanos == 0 ? 0 : prefillTokens * 1e9 / prefillNanos;
        }

        /** Positions per second after the prefills. */
        public double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : decodeTokens * 1e9 / decodeNanos;
        }

        /** BufferPool hit rate (NaN without requests). */
        public double poolHitRate() {
            return poolRequests == 0 ? Double.NaN : (double) poolHits / poolRequests;
        }

        /** TensorBuffer hit rate (NaN without takes). */
        public double tensorBufferHitRate() {
            return tensorBufferRequests == 0 ? Double.NaN : (double) tensorBufferHits / tensorBufferRequests;
        }

        /** Planned allocations served from an arena, as a share of the allocations inside runs (NaN if none). */
        public double planHitRate() {
            long n = plan.plannedAllocations() + plan.fallbackAllocations();
            return n == 0 ? Double.NaN : (double) plan.plannedAllocations() / n;
        }

        /** {@link #peakReservedBytes} over {@link #lowerBoundBytes}. */
        public double reservedOverLowerBound() {
            return lowerBoundBytes == 0 ? Double.NaN : (double) peakReservedBytes / lowerBoundBytes;
        }
    }

    /** Told after each request (for progress). */
    @FunctionalInterface
    public interface Listener {
        /**
         * @param done  requests finished
         * @param total requests in the workload
         * @param last  the finished request's statistics
         */
        void onRequest(int done, int total, DecodeStats last);
    }

    /**
     * Runs {@code requests} on a fresh context of {@code strategy} on {@code deviceId}.
     *
     * @param maxPrompt the longest prompt the workload may draw (PROACTIVE's largest bucket)
     * @param listener  may be {@code null}
     * @throws ModelFormatException for a bad checkpoint
     * @throws IOException          if the checkpoint cannot be read
     */
    public static Stats run(Path model, String deviceId, AllocationStrategy strategy, List<Request> requests,
                            int maxPrompt, PrefillMode mode, Listener listener) throws IOException {
        try (Checkpoint ck = Checkpoint.open(model);
             TensorContext ctx = TensorContext.create(Devices.get(deviceId), strategy);
             Transformer m = Transformer.load(ck, ctx, model.getFileName().toString())) {
            Config c = ck.config();
            if (strategy == AllocationStrategy.PROACTIVE) {
                m.reserve();
                if (mode == PrefillMode.BATCHED && maxPrompt > 1) {
                    ShapeBuckets b = ShapeBuckets.powersOfTwo(maxPrompt);
                    ctx.shapeBuckets(b);
                    m.reservePrefill(b, maxPrompt);
                }
            } else if (strategy == AllocationStrategy.PLANNED && mode == PrefillMode.BATCHED && maxPrompt > 1) {
                ShapeBuckets b = ShapeBuckets.powersOfTwo(maxPrompt);
                ctx.shapeBuckets(b);
                m.planPrefill(b, maxPrompt);
            }
            Sampler greedy = new Sampler(c.vocabSize(), 0f, 0.9f, 1L);
            PoolStats pool0 = ctx.pool().stats();
            TensorBufferStats tb0 = ctx.tensorBuffer().stats();
            long warm = -1;
            long prefillTokens = 0;
            long prefillNanos = 0;
            long decodeTokens = 0;
            long decodeNanos = 0;
            long activationPeak = 0; // KV cache and activations, weights excluded
            long stepBound = Transformer.traceStep(ck).lowerBound();
            java.util.Map<Integer, Long> prefillBounds = new java.util.HashMap<>();
            List<int[]> ids = new ArrayList<>();
            int done = 0;
            for (Request r : requests) {
                DecodeStats s = Generator.generate(m, greedy, r.prompt(), r.steps(), null, mode);
                ids.add(s.ids());
                prefillTokens += s.prefillTokens();
                prefillNanos += s.prefillNanos();
                decodeTokens += s.tokens() - s.prefillTokens();
                decodeNanos += s.decodeNanos() - s.prefillNanos();
                activationPeak = Math.max(activationPeak, stepBound);
                if (s.batchedPrefill()) {
                    activationPeak = Math.max(activationPeak, prefillBounds.computeIfAbsent(s.prefillTokens(),
                            t -> Transformer.tracePrefill(ck, t).lowerBound()));
                }
                done++;
                if (done == Math.min(WARMUP_REQUESTS, requests.size())) {
                    warm = ctx.rawAllocations();
                }
                if (listener != null) {
                    listener.onRequest(done, requests.size(), s);
                }
            }
            PoolStats pool = ctx.pool().stats();
            TensorBufferStats tb = ctx.tensorBuffer().stats();
            PlanStats plan = ctx.planner().stats();
            long lower = m.weightBytes() + activationPeak;
            long reserved = ctx.raw().peakLiveBytes() + pool.peakReservedBytes() + tb.peakReservedBytes()
                    + plan.arenaBytes();
            long live = ctx.raw().peakLiveBytes() + pool.peakLiveBytes() + tb.peakLiveBytes() + tb.learnableBytes();
            long total = ctx.rawAllocations();
            return new Stats(strategy, ctx.device().id(), c, requests.size(), prefillTokens, prefillNanos,
                    decodeTokens, decodeNanos, total, total - warm, pool.requests() - pool0.requests(),
                    pool.hits() - pool0.hits(), tb.requests() - tb0.requests(), tb.hits() - tb0.hits(), plan,
                    strategy == AllocationStrategy.PLANNED ? m.planCache().size() : 0, reserved, live, lower, ids);
        }
    }
}
