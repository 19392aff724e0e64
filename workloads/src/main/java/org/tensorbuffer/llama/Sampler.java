package org.tensorbuffer.llama;

import java.util.Arrays;

/**
 * Picks the next token from logits as karpathy/llama2.c's {@code run.c} does, so that a given seed reproduces
 * run.c's choices: greedy argmax at temperature 0; otherwise logits divided by the temperature, a float32 softmax,
 * one coin from run.c's xorshift* generator ({@code random_f32}), and either plain multinomial sampling
 * ({@code topp} outside (0, 1)) or top-p (nucleus) sampling.
 *
 * <p>Not thread-safe (it holds the generator state and a scratch array).
 */
public final class Sampler {
    private final int vocabSize;
    private final float temperature;
    private final float topp;
    private long rngState;
    private final long[] probIndex; // top-p candidates: float bits of the probability << 32 | index

    /**
     * @param vocabSize   number of logits
     * @param temperature 0 for greedy, otherwise the softmax temperature
     * @param topp        nucleus threshold; values {@code <= 0} or {@code >= 1} sample from the whole distribution
     * @param seed        initial xorshift state (run.c's {@code rng_seed}; must not be 0 for sampling, as in run.c)
     * @throws IllegalArgumentException for a negative or NaN temperature, a NaN topp, or seed 0 with sampling
     */
    public Sampler(int vocabSize, float temperature, float topp, long seed) {
        if (!(temperature >= 0)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (Float.isNaN(topp)) {
            throw new IllegalArgumentException("topp is NaN");
        }
        if (temperature != 0 && seed == 0) {
            throw new IllegalArgumentException("seed 0 would make xorshift return only zeros; use a non-zero seed");
        }
        this.vocabSize = vocabSize;
        this.temperature = temperature;
        this.topp = topp;
        this.rngState = seed;
        this.probIndex = new long[vocabSize];
    }

    /** Whether this sampler is greedy (temperature 0) and so needs only the argmax of the logits. */
    public boolean greedy() {
        return temperature == 0.0f;
    }

    /**
     * The next token. {@code logits} ({@code vocabSize} elements) is overwritten with the probabilities unless the
     * sampler is greedy.
     */
    public int sample(float[] logits) {
        if (greedy()) {
            return argmax(logits, vocabSize);
        }
        for (int i = 0; i < vocabSize; i++) {
            logits[i] /= temperature;
        }
        softmax(logits, vocabSize);
        float coin = randomF32();
        if (topp <= 0 || topp >= 1) {
            return sampleMult(logits, vocabSize, coin);
        }
        return sampleTopp(logits, vocabSize, topp, coin);
    }

    /** run.c's {@code sample_argmax}: the first index of the maximum. */
    static int argmax(float[] p, int n) {
        int maxI = 0;
        float maxP = p[0];
        for (int i = 1; i < n; i++) {
            if (p[i] > maxP) {
                maxI = i;
                maxP = p[i];
            }
        }
        return maxI;
    }

    /** run.c's float32 {@code softmax} in place over the first {@code n} elements. */
    static void softmax(float[] x, int n) {
        float max = x[0];
        for (int i = 1; i < n; i++) {
            if (x[i] > max) {
                max = x[i];
            }
        }
        float sum = 0.0f;
        for (int i = 0; i < n; i++) {
            x[i] = (float) Math.exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < n; i++) {
            x[i] /= sum;
        }
    }

    private static int sampleMult(float[] p, int n, float coin) {
        float cdf = 0.0f;
        for (int i = 0; i < n; i++) {
            cdf += p[i];
            if (coin < cdf) {
                return i;
            }
        }
        return n - 1;
    }

    private int sampleTopp(float[] p, int n, float topp, float coin) {
        // Candidates below (1 - topp) / (n - 1) cannot be in the nucleus (run.c's cutoff).
        float cutoff = (1.0f - topp) / (n - 1);
        int n0 = 0;
        for (int i = 0; i < n; i++) {
            if (p[i] >= cutoff) {
                // Probabilities are >= 0, so their float bits order like the values: sorted ascending and read
                // from the end, the keys give descending probability, and equal probabilities ascending index (the
                // low half holds ~index). run.c's qsort order for exact ties is up to the C library.
                probIndex[n0++] = ((long) Float.floatToRawIntBits(p[i]) << 32) | (~i & 0xFFFFFFFFL);
            }
        }
        Arrays.sort(probIndex, 0, n0);
        // Ascending by probability: walk from the end.
        float cumulative = 0.0f;
        int last = 0; // number of candidates kept, from the largest
        for (int k = 0; k < n0; k++) {
            cumulative += prob(n0 - 1 - k, p);
            if (cumulative > topp) {
                last = k;
                break;
            }
            last = k;
        }
        float r = coin * cumulative;
        float cdf = 0.0f;
        for (int k = 0; k <= last; k++) {
            cdf += prob(n0 - 1 - k, p);
            if (r < cdf) {
                return index(n0 - 1 - k);
            }
        }
        return index(n0 - 1 - last);
    }

    private float prob(int sortedPos, float[] p) {
        return p[index(sortedPos)];
    }

    private int index(int sortedPos) {
        return ~(int) probIndex[sortedPos];
    }

    /** run.c's {@code random_u32}: xorshift* (Marsaglia 2003; Vigna 2014), upper 32 bits of the product. */
    int randomU32() {
        rngState ^= rngState >>> 12;
        rngState ^= rngState << 25;
        rngState ^= rngState >>> 27;
        return (int) ((rngState * 0x2545F4914F6CDD1DL) >>> 32);
    }

    /** run.c's {@code random_f32}: a float in [0, 1) from the top 24 bits. */
    float randomF32() {
        return (randomU32() >>> 8) / 16777216.0f;
    }
}
