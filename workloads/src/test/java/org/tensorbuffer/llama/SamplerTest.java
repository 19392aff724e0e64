package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SamplerTest {
    /** run.c's random_u32 written with unsigned 64-bit arithmetic via BigInteger, as an independent reference. */
    private static long[] referenceXorshift(long seed, int n) {
        java.math.BigInteger mask = java.math.BigInteger.ONE.shiftLeft(64).subtract(java.math.BigInteger.ONE);
        java.math.BigInteger s = java.math.BigInteger.valueOf(seed).and(mask);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            s = s.xor(s.shiftRight(12)).and(mask);
            s = s.xor(s.shiftLeft(25)).and(mask);
            s = s.xor(s.shiftRight(27)).and(mask);
            out[i] = s.multiply(new java.math.BigInteger("2545F4914F6CDD1D", 16)).and(mask).shiftRight(32).longValue();
        }
        return out;
    }

    @Test
    void xorshiftMatchesUnsignedReference() {
        Sampler s = new Sampler(4, 1f, 0.9f, 42);
        long[] ref = referenceXorshift(42, 1000);
        for (long r : ref) {
            assertThat(Integer.toUnsignedLong(s.randomU32())).isEqualTo(r);
        }
        Sampler f = new Sampler(4, 1f, 0.9f, 1234567);
        long[] ref2 = referenceXorshift(1234567, 100);
        for (long r : ref2) {
            assertThat(f.randomF32()).isEqualTo((r >>> 8) / 16777216.0f).isBetween(0f, 1f);
        }
    }

    @Test
    void greedyTakesFirstMaximum() {
        Sampler s = new Sampler(5, 0f, 0.9f, 0);
        assertThat(s.sample(new float[] {1, 3, 2, 3, -1})).isEqualTo(1);
    }

    @Test
    void toppKeepsTheNucleusOnly() {
        // probabilities after softmax at temperature 1 of log(p): p = 0.5, 0.3, 0.15, 0.05; top-p 0.7 keeps the
        // first two (0.5 + 0.3 > 0.7), so index 2 and 3 never come out.
        int[] counts = new int[4];
        Sampler s = new Sampler(4, 1f, 0.7f, 99);
        for (int i = 0; i < 4000; i++) {
            float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15),
                (float) Math.log(0.05)};
            counts[s.sample(logits)]++;
        }
        assertThat(counts[2] + counts[3]).isZero();
        assertThat(counts[0] / 4000.0).isCloseTo(0.5 / 0.8, org.assertj.core.data.Offset.offset(0.03));
    }

    @Test
    void rejectsBadParameters() {
        assertThatThrownBy(() -> new Sampler(4, -1f, 0.9f, 1)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new Sampler(4, 1f, 0.9f, 0)).hasMessageContaining("seed");
    }
}
