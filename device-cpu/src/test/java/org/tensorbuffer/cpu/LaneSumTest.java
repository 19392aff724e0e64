package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/**
 * {@link VectorOpsF32#laneSum} and {@link VectorOpsF32#laneSum8}: each sum against the same tree evaluated lane by
 * lane in scalar float code, and the same bits before and after C2 compiles it
 * ({@code reduceLanes(ADD)} failed that on about 15% of these inputs, measured on JDK 25.0.3 with AVX-512).
 */
class LaneSumTest {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> NS = FloatVector.SPECIES_256;

    /** Gaussian values with log-normal scales: sums whose rounding depends on the order of the additions. */
    private static float[] inputs(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian() * 3));
        }
        return x;
    }

    /** The tree in scalar float arithmetic: pairs at distance n/2, then n/4, ..., 1; lane 0. */
    private static float scalarTree(float[] x, int off, int n) {
        float[] a = java.util.Arrays.copyOfRange(x, off, off + n);
        for (int d = n / 2; d >= 1; d /= 2) {
            float[] b = new float[n];
            for (int i = 0; i < n; i++) {
                b[i] = a[i] + a[i ^ d];
            }
            a = b;
        }
        return a[0];
    }

    private static float[] sums(float[] x, VectorSpecies<Float> s) {
        int n = s.length();
        float[] y = new float[x.length / n];
        for (int i = 0; i < y.length; i++) {
            FloatVector v = FloatVector.fromArray(s, x, i * n);
            y[i] = s == NS ? VectorOpsF32.laneSum8(v) : VectorOpsF32.laneSum(v);
        }
        return y;
    }

    @Test
    void addsInTheTreesOrder() {
        float[] x = inputs(1 << 14, 3);
        for (VectorSpecies<Float> s : java.util.List.of(FS, NS)) {
            float[] y = sums(x, s);
            for (int i = 0; i < y.length; i++) {
                assertThat(Float.floatToRawIntBits(y[i])).as("%s sum %d", s, i)
                        .isEqualTo(Float.floatToRawIntBits(scalarTree(x, i * s.length(), s.length())));
            }
        }
    }

    /** The first pass runs interpreted; after many passes C2 has compiled the sums. */
    @Test
    void sameBitsBeforeAndAfterTheJitCompilesIt() {
        float[] x = inputs(1 << 14, 5);
        float[] first = sums(x, FS);
        float[] first8 = sums(x, NS);
        float[] last = null;
        float[] last8 = null;
        for (int k = 0; k < 1500; k++) {
            last = sums(x, FS);
            last8 = sums(x, NS);
        }
        for (int i = 0; i < first.length; i++) {
            assertThat(Float.floatToRawIntBits(last[i])).as("sum %d", i).isEqualTo(Float.floatToRawIntBits(first[i]));
        }
        for (int i = 0; i < first8.length; i++) {
            assertThat(Float.floatToRawIntBits(last8[i])).as("8-lane sum %d", i)
                    .isEqualTo(Float.floatToRawIntBits(first8[i]));
        }
    }
}
