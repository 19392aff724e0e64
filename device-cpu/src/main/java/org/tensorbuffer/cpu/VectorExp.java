package org.tensorbuffer.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code exp(x)} over the lanes of a {@link FloatVector#SPECIES_PREFERRED} vector, from lane-wise IEEE operations
 * only (multiply, fused multiply-add, add, conversion, shift), so that it gives the same bits whether its caller runs
 * interpreted, in C1 or in C2.
 *
 * <p>Why not {@link VectorOperators#EXP}: the JDK computes it with {@code (float) Math.exp} per lane until C2 compiles
 * the caller, and with its vector math library (SVML) after; the two differ in the last bit on about 1% of inputs
 * (measured on JDK 25.0.3, AVX-512: 11,258 of 2^20 uniform inputs in [-10, 10]). A decode's softmax and SiLU then
 * depended on when the JIT compiled them, and two decodes of the same tokens in one process could differ in the last
 * bits of their logits ({@code PlannedDecodeTest}'s exact replay failed now and then).
 *
 * <p>Algorithm: Cephes {@code expf} (S. L. Moshier, Cephes Math Library, {@code expf.c}, as in
 * {@code sse_mathfun.h}'s {@code exp_ps}, J. Pommier, zlib licence): {@code n = round(x log2 e)},
 * {@code r = x - n ln 2} in two fused steps (ln 2 split in a high and a low part), {@code e^r} by a degree-6
 * polynomial on {@code |r| <= ln 2 / 2}, scaled by {@code 2^n} through the exponent bits. Within 2 ulp of the exact
 * result in float32 (tested against {@code Math.exp} in {@code VectorExpTest}). Inputs are clamped to
 * [{@link #LO}, {@link #HI}] (so no infinite or subnormal results: {@code exp(100)} is about 2.7e38, {@code exp(-100)}
 * about 1.2e-38, which SiLU and softmax turn into the same values as the exact ones to float32 precision); NaN gives
 * NaN.
 *
 * <p>Callers need it inlined: a vector passed to or returned from a call that C2 does not inline is boxed (an
 * allocation per call). At 174 bytecodes it is inlined only at call sites that are hot when the caller is compiled,
 * and the head-size-8 softmax's site is cold before position 16, so the {@code tensorbuffer} launcher forces it
 * ({@code -XX:CompileCommand=inline,org.tensorbuffer.cpu.VectorExp::exp}; docs/benchmarks.md, issue 14, "Round 10:
 * 1-thread bimodality and a deterministic exp").
 *
 * <p>Stateless; thread-safe.
 */
final class VectorExp {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = FS.vectorShape().withLanes(int.class);

    /** Inputs are clamped to at most this (above it, {@code 2^n} with {@code n = 128} has no float32 exponent). */
    static final float HI = 88.3762626647949f;
    /** Inputs are clamped to at least this (below it, the result would be subnormal). */
    static final float LO = -87.3365447504019f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to the nearest integer (even). */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float P0 = 1.9875691500E-4f;
    private static final float P1 = 1.3981999507E-3f;
    private static final float P2 = 8.3334519073E-3f;
    private static final float P3 = 4.1665795894E-2f;
    private static final float P4 = 1.6666665459E-1f;
    private static final float P5 = 5.0000001201E-1f;

    private VectorExp() {
    }

    /** {@code exp} of each lane of {@code x} (a preferred-species vector); see the class comment for the range. */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(LO).min(HI);
        FloatVector t = c.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(b(-LN2_HI), c);
        r = n.fma(b(-LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, b(P2));
        p = p.fma(r, b(P3));
        p = p.fma(r, b(P4));
        p = p.fma(r, b(P5));
        FloatVector y = p.fma(r.mul(r), r).add(1.0f);
        // t = 1.5 * 2^23 + n exactly, so its low mantissa bits are 2^22 + n: the exponent field of 2^n from them
        IntVector bits = ((IntVector) t.viewAsIntegralLanes()).sub(ROUND_BITS - 127)
                .lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats());
    }

    private static FloatVector b(float v) {
        return FloatVector.broadcast(FS, v);
    }
}
