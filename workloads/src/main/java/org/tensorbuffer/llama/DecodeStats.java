package org.tensorbuffer.llama;

import org.tensorbuffer.AllocationStrategy;

/**
 * What one decode measured. Counts of allocations are device allocations made through the context (raw allocator,
 * pool and TensorBuffer together). "Steady" figures cover the steps after the first one, when every buffer a step
 * needs has been seen once.
 *
 * @param strategy               the allocation strategy
 * @param device                 the device id
 * @param config                 the model's hyperparameters
 * @param promptTokens           tokens of the encoded prompt, BOS included
 * @param tokens                 positions run through the transformer (the {@code --steps} count, or fewer if BOS was
 *                               sampled)
 * @param ids                    the sampled token ids (those after the prompt), in order
 * @param decodeNanos            wall time of all steps (weights loading and reservations excluded)
 * @param decodeCpuNanos         CPU time of the decoding thread over the same steps (-1 where the JVM cannot measure
 *                               it): unlike wall time, hardly affected by other processes sharing the cores; work
 *                               the device does on other threads is not in it
 * @param firstTokenNanos        wall time of the first step (device work of the step finished)
 * @param firstTokenCpuNanos     CPU time of the decoding thread during the first step (-1 where not measurable)
 * @param reserveNanos           wall time of the reservations made before the first step (PROACTIVE: recording a step
 *                               on the meta device, reserving its plan and, after the KV cache allocation, preparing
 *                               the step on the device, {@link Transformer#prepareStep()}; 0 otherwise)
 * @param rawAllocsTotal         device allocations since the context was created: weights, KV cache, reservations and
 *                               activations
 * @param rawAllocsFirst         device allocations during the first step (reservations made before it excluded)
 * @param rawAllocsSteady        device allocations during steps 2..tokens
 * @param poolRequests           BufferPool requests during the whole decode
 * @param poolHits               of which served from its cache
 * @param poolRequestsSteady     BufferPool requests during steps 2..tokens
 * @param poolHitsSteady         of which served from its cache
 * @param tensorBufferRequests   TensorBuffer takes during the whole decode
 * @param tensorBufferHits       of which served from a reserved block
 * @param peakLiveBytes          sum of each allocator's high-water mark of bytes in use, weights included
 * @param peakReservedBytes      sum of each allocator's high-water mark of bytes held from the device
 * @param lowerBoundBytes        the liveness lower bound of a decode: weights plus the least arena holding one step's
 *                               KV cache and activations ({@link Transformer#livenessLowerBound()})
 * @param batchedPrefill         whether the prompt went through {@link Transformer#prefill} at once (else one
 *                               {@link Transformer#forward} per prompt token, as run.c)
 * @param prefillTokens          prompt positions run in the prefill phase (the prompt, or {@code tokens} if fewer)
 * @param prefillNanos           wall time of the prefill phase, up to the first sampled token's logits (included)
 * @param prefillRawAllocs       device allocations during the prefill phase
 * @param decodeRawAllocs        device allocations after the prefill phase
 */
public record DecodeStats(AllocationStrategy strategy, String device, Config config, int promptTokens, int tokens,
                          int[] ids, long decodeNanos, long decodeCpuNanos, long firstTokenNanos,
                          long firstTokenCpuNanos, long reserveNanos, long rawAllocsTotal, long rawAllocsFirst,
                          long rawAllocsSteady, long poolRequests, long poolHits, long poolRequestsSteady,
                          long poolHitsSteady, long tensorBufferRequests, long tensorBufferHits,
                          long peakLiveBytes, long peakReservedBytes, long lowerBoundBytes, boolean batchedPrefill, int prefillTokens,
                          long prefillNanos, long prefillRawAllocs, long decodeRawAllocs) {

    /** Prompt positions per second in the prefill phase (0 if it was empty). */
    public double prefillTokensPerSecond() {
        return prefillNanos <= 0 ? 0 : prefillTokens * 1e9 / prefillNanos;
    }

    /** Positions per second after the prefill phase (0 if there were none). */
    public double decodeTokensPerSecond() {
        long n = decodeNanos - prefillNanos;
        return n <= 0 || tokens <= prefillTokens ? 0 : (tokens - prefillTokens) * 1e9 / n;
    }

    /** Positions per second over the whole decode. */
    public double tokensPerSecond() {
        return decodeNanos == 0 ? 0 : tokens * 1e9 / decodeNanos;
    }

    /** Positions per second of the decoding thread's CPU time (NaN if it could not be measured). */
    public double tokensPerCpuSecond() {
        return decodeCpuNanos <= 0 ? Double.NaN : tokens * 1e9 / decodeCpuNanos;
    }

    /** Device allocations per step after the first step (0 with a single step). */
    public double rawAllocsPerTokenSteady() {
        return tokens <= 1 ? 0 : (double) rawAllocsSteady / (tokens - 1);
    }

    /** {@code peakReservedBytes / lowerBoundBytes} (NaN without a bound). */
    public double reservedOverLowerBound() {
        return lowerBoundBytes <= 0 ? Double.NaN : (double) peakReservedBytes / lowerBoundBytes;
    }

    /** BufferPool hit rate over the whole decode (NaN with no requests). */
    public double poolHitRate() {
        return rate(poolHits, poolRequests);
    }

    /** BufferPool hit rate after the first step (NaN with no requests). */
    public double poolHitRateSteady() {
        return rate(poolHitsSteady, poolRequestsSteady);
    }

    /** TensorBuffer hit rate over the whole decode (NaN with no requests). */
    public double tensorBufferHitRate() {
        return rate(tensorBufferHits, tensorBufferRequests);
    }

    private static double rate(long hits, long requests) {
        return requests == 0 ? Double.NaN : (double) hits / requests;
    }
}
