package org.tensorbuffer.llama;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.PoolStats;
import org.tensorbuffer.memory.TensorBufferStats;
import org.tensorbuffer.memory.ShapeBuckets;
import org.tensorbuffer.plan.PlanCache;

/**
 * The generation loop of karpathy/llama2.c's {@code run.c} ({@code generate}): start from the prompt's first token
 * (BOS), run one position at a time, force the prompt's tokens while inside the prompt and sample afterwards, stop
 * after {@code steps} positions or when BOS is sampled. Measures time and the context's allocation statistics.
 *
 * <p>Not thread-safe.
 */
public final class Generator {
    /** Receives each token as it is produced (for streaming text and progress). */
    @FunctionalInterface
    public interface Listener {
        /**
         * @param pos       positions done so far (1 after the first step)
         * @param prevToken the token the step ran on
         * @param token     the next token (forced from the prompt, or sampled)
         * @param sampled   whether {@code token} was sampled rather than taken from the prompt
         */
        void onToken(int pos, int prevToken, int token, boolean sampled);
    }

    private Generator() {
    }

    /**
     * Decodes. Under {@link AllocationStrategy#PROACTIVE} first {@link Transformer#reserve() reserves} what one step
     * recorded on the {@code meta} device takes (KV cache and activations); then allocates the KV cache and (without a
     * batched prefill) {@link Transformer#captureStep() captures} the step where the device can (Vulkan: every
     * position is then one replay of the recorded step; its time counts in {@code reserve ms}), else
     * {@link Transformer#prepareStep() prepares} it, and runs. Under
     * {@link AllocationStrategy#PLANNED} each step is one
     * planned run ({@link TensorContext#run()}): the first is recorded and planned into one arena, the others replay
     * it.
     *
     * @param prompt   the encoded prompt, starting with BOS (at least one token)
     * @param steps    positions to run, {@code 1..seqLen} (run.c's {@code -n}, prompt included)
     * @param listener may be {@code null}
     * @throws IllegalArgumentException naming the model file and {@code seq_len} if {@code steps} is outside
     *                                  {@code [1, seq_len]}, or if the prompt is empty
     */
    public static DecodeStats generate(Transformer model, Sampler sampler, int[] prompt, int steps,
                                       Listener listener) {
        return generate(model, sampler, prompt, steps, listener, PrefillMode.BATCHED);
    }

    /**
     * Decodes as {@link #generate(Transformer, Sampler, int[], int, Listener)} with the prompt run as {@code mode}
     * says. {@link PrefillMode#BATCHED}: the first {@code min(prompt.length, steps)} positions go through one
     * {@link Transformer#prefill} (a one-token prompt through {@link Transformer#forward}); then one position at a
     * time. Under PROACTIVE the prefill's buffers are reserved for its exact shapes unless the context has
     * {@link TensorContext#shapeBuckets shape buckets} (whose reservations are then the caller's); under PLANNED
     * each distinct shape signature gets its own cached plan ({@link Transformer#planCache()}): the prompt length,
     * or with shape buckets on the context its bucket (the run's tensors then at bucket shapes, plans shared within a
     * bucket, see {@link Transformer#planPrefill}).
     */
    public static DecodeStats generate(Transformer model, Sampler sampler, int[] prompt, int steps,
                                       Listener listener, PrefillMode mode) {
        Config c = model.config();
        if (steps < 1 || steps > c.seqLen()) {
            throw new IllegalArgumentException("steps " + steps + " is outside [1, seq_len " + c.seqLen()
                    + "] of " + model.name() + " (header field seq_len)");
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt must have at least one token (BOS)");
        }
        TensorContext ctx = model.context();
        int nPrefill = Math.min(prompt.length, steps);
        boolean batched = mode == PrefillMode.BATCHED && nPrefill > 1;
        long p0 = System.nanoTime();
        if (ctx.strategy() == AllocationStrategy.PROACTIVE) {
            model.reserve();
            if (batched && ctx.shapeBuckets() == null) {
                model.reservePrefill(ShapeBuckets.of(nPrefill), nPrefill);
            }
        }
        long reserveNanos = System.nanoTime() - p0;
        model.allocateCache();
        CapturedStep captured = null;
        if (ctx.strategy() == AllocationStrategy.PROACTIVE && !batched) {
            long q0 = System.nanoTime();
            captured = model.captureStep().orElse(null);
            if (captured == null) {
                model.prepareStep();
            }
            reserveNanos += System.nanoTime() - q0;
        }
        try {
            return decode(model, sampler, prompt, steps, listener, batched, nPrefill, reserveNanos, captured);
        } finally {
            if (captured != null) {
                captured.close();
            }
        }
    }

    private static DecodeStats decode(Transformer model, Sampler sampler, int[] prompt, int steps, Listener listener,
                                      boolean batched, int nPrefill, long reserveNanos, CapturedStep captured) {
        Config c = model.config();
        TensorContext ctx = model.context();
        float[] logitsHost = new float[c.vocabSize()];
        int[] ids = new int[steps];
        int nIds = 0;
        Snapshot start = Snapshot.of(ctx);
        Snapshot afterFirst = start;
        Snapshot afterPrefill = null;
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        boolean cpuTime = threads.isCurrentThreadCpuTimeSupported() && threads.isThreadCpuTimeEnabled();
        long c0 = cpuTime ? threads.getCurrentThreadCpuTime() : 0;
        long t0 = System.nanoTime();
        long tFirst = t0;
        long tPrefill = t0;
        long cFirst = c0;
        int token = prompt[0];
        int pos = 0;
        boolean planned = ctx.strategy() == AllocationStrategy.PLANNED;
        boolean done = false;
        if (batched) {
            int next;
            ShapeBuckets buckets = planned ? ctx.shapeBuckets() : null;
            try (PlanCache.Run run = !planned ? null : buckets == null
                    ? model.planCache().run(Transformer.prefillSignature(nPrefill))
                    : model.planCache().run(Transformer.prefillSignature(buckets.bucket(nPrefill)), buckets);
                 Tensor logits = model.prefill(Arrays.copyOf(prompt, nPrefill), 0)) {
                next = nPrefill < prompt.length ? prompt[nPrefill] : pick(logits, sampler, logitsHost);
            }
            ctx.device().synchronize();
            tFirst = tPrefill = System.nanoTime();
            cFirst = cpuTime ? threads.getCurrentThreadCpuTime() : 0;
            afterFirst = afterPrefill = Snapshot.of(ctx);
            pos = nPrefill;
            boolean stop = false;
            for (int p = 1; p <= nPrefill; p++) {
                int prev = prompt[p - 1];
                int tok = p < nPrefill ? prompt[p] : next;
                boolean sampled = p == nPrefill && nPrefill == prompt.length;
                if (tok == Tokenizer.BOS) {
                    stop = true;
                    break;
                }
                if (sampled) {
                    ids[nIds++] = tok;
                }
                if (listener != null) {
                    listener.onToken(p, prev, tok, sampled);
                }
            }
            token = next;
            done = stop; // BOS ends the decode
        }
        while (!done && pos < steps) {
            int next;
            try (PlanCache.Run run = planned ? model.planCache().run("step") : null;
                 Tensor eager = captured == null ? model.forward(token, pos) : null) {
                // a captured step's logits are its static output tensor: not closed here
                Tensor logits = eager != null ? eager : captured.run(token, pos);
                if (pos < prompt.length - 1) {
                    next = prompt[pos + 1];
                } else if (captured != null && sampler.greedy()) {
                    next = captured.next(); // the pick the step wrote on the device
                } else {
                    next = pick(logits, sampler, logitsHost);
                }
            }
            boolean sampled = pos >= prompt.length - 1;
            pos++;
            if (pos == 1) {
                ctx.device().synchronize();
                tFirst = System.nanoTime();
                cFirst = cpuTime ? threads.getCurrentThreadCpuTime() : 0;
                afterFirst = Snapshot.of(ctx);
            }
            if (afterPrefill == null && pos >= nPrefill) {
                ctx.device().synchronize();
                tPrefill = System.nanoTime();
                afterPrefill = Snapshot.of(ctx);
            }
            if (next == Tokenizer.BOS) {
                break;
            }
            if (sampled) {
                ids[nIds++] = next;
            }
            if (listener != null) {
                listener.onToken(pos, token, next, sampled);
            }
            token = next;
        }
        ctx.device().synchronize();
        long t1 = System.nanoTime();
        long cpu = cpuTime ? threads.getCurrentThreadCpuTime() - c0 : -1;
        Snapshot end = Snapshot.of(ctx);
        if (afterPrefill == null) {
            afterPrefill = end;
            tPrefill = t1;
        }
        return new DecodeStats(ctx.strategy(), ctx.device().id(), c, prompt.length, pos, Arrays.copyOf(ids, nIds),
                t1 - t0, cpu, tFirst - t0, cpuTime ? cFirst - c0 : -1, reserveNanos, end.rawAllocs,
                afterFirst.rawAllocs - start.rawAllocs, end.rawAllocs - afterFirst.rawAllocs,
                end.pool.requests() - start.pool.requests(), end.pool.hits() - start.pool.hits(),
                end.pool.requests() - afterFirst.pool.requests(), end.pool.hits() - afterFirst.pool.hits(),
                end.tb.requests() - start.tb.requests(), end.tb.hits() - start.tb.hits(),
                ctx.raw().peakLiveBytes() + end.pool.peakLiveBytes() + end.tb.peakLiveBytes()
                        + end.tb.learnableBytes(),
                ctx.raw().peakLiveBytes() + end.pool.peakReservedBytes() + end.tb.peakReservedBytes()
                        + ctx.planner().stats().arenaBytes(),
                model.livenessLowerBound(),
                batched, Math.min(nPrefill, pos), tPrefill - t0, afterPrefill.rawAllocs - start.rawAllocs,
                end.rawAllocs - afterPrefill.rawAllocs);
    }

    private static int pick(Tensor logits, Sampler sampler, float[] logitsHost) {
        if (sampler.greedy()) {
            return (int) logits.argmax();
        }
        System.arraycopy(logits.toFloatArray(), 0, logitsHost, 0, logitsHost.length);
        return sampler.sample(logitsHost);
    }

    private record Snapshot(long rawAllocs, PoolStats pool, TensorBufferStats tb) {
        static Snapshot of(TensorContext ctx) {
            return new Snapshot(ctx.rawAllocations(), ctx.pool().stats(), ctx.tensorBuffer().stats());
        }
    }
}
