package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** {@link VectorExp} against {@code Math.exp} (float64, rounded once), and its bits before and after C2. */
class VectorExpTest {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += FS.length()) {
            VectorExp.exp(FloatVector.fromArray(FS, x, i)).intoArray(y, i);
        }
        return y;
    }

    private static float[] inputs(int n, long seed, float lo, float hi) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = lo + (hi - lo) * r.nextFloat();
        }
        return x;
    }

    @Test
    void withinTwoUlpOfMathExpOverItsRange() {
        float[] x = inputs(1 << 16, 7, VectorExp.LO, VectorExp.HI);
        float[] y = exp(x);
        int maxUlp = 0;
        for (int i = 0; i < x.length; i++) {
            float ref = (float) Math.exp(x[i]);
            int ulp = Math.abs(Float.floatToIntBits(y[i]) - Float.floatToIntBits(ref));
            assertThat(ulp).as("exp(%s) = %s, Math.exp %s", x[i], y[i], ref).isLessThanOrEqualTo(2);
            maxUlp = Math.max(maxUlp, ulp);
        }
        assertThat(maxUlp).as("not simply Math.exp").isGreaterThan(0);
    }

    @Test
    void specialValues() {
        float[] x = new float[FS.length()];
        float[] in = {0f, 1f, -1f, 100f, -100f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        System.arraycopy(in, 0, x, 0, Math.min(in.length, x.length));
        float[] y = exp(x);
        assertThat(y[0]).isEqualTo(1.0f);
        assertThat(y[1]).isCloseTo((float) Math.E, org.assertj.core.data.Offset.offset(Math.ulp((float) Math.E)));
        if (x.length >= 8) {
            assertThat(y[2]).isCloseTo((float) Math.exp(-1), org.assertj.core.data.Offset.offset(Math.ulp(0.37f)));
            float big = (float) Math.exp(VectorExp.HI);
            float small = (float) Math.exp(VectorExp.LO);
            assertThat(y[3]).isBetween(big * 0.999f, big * 1.001f);
            assertThat(y[4]).isBetween(small * 0.999f, small * 1.001f);
            assertThat(y[5]).isNaN();
            assertThat(y[6]).isEqualTo(y[3]);
            assertThat(y[7]).isEqualTo(y[4]);
        }
    }

    /**
     * The first call runs interpreted; after many calls C2 has compiled {@code exp}. The JDK's {@code EXP} gave other
     * bits on about 1% of these inputs at that change; ours must not.
     */
    @Test
    void sameBitsBeforeAndAfterTheJitCompilesIt() {
        float[] x = inputs(1 << 14, 11, -20f, 20f);
        float[] first = exp(x);
        float[] last = null;
        for (int k = 0; k < 1500; k++) {
            last = exp(x);
        }
        assertThat(last).containsExactly(first);
    }
}
