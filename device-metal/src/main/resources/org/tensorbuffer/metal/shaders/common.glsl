// TC(literal) is a literal of type T (ShaderCompiler appends LF for double).
// Prelude prepended to every shader by ShaderCompiler (after "#version 450" and the dtype macro).
// T is the element type: float, or double when F64 is defined. The math functions below are our own so that every
// driver (lavapipe, NVIDIA, MoltenVK) gives the same, accurate results, and because GLSL has no double exp/sin/cos.
#ifdef F64
#define T double
#else
#define T float
#endif

T t_neg_inf() {
#ifdef F64
    return packDouble2x32(uvec2(0u, 0xfff00000u));
#else
    return uintBitsToFloat(0xff800000u);
#endif
}

// Cody-Waite range reduction with ln2 split in a high part with trailing zeros (fdlibm's split for double,
// Cephes' for float), then Taylor series of exp(r) for |r| <= ln2/2 (degree 13: error below 1e-17).
T t_exp(T x) {
    if (isnan(x)) return x;
#ifdef F64
    if (x > 709.782712893384LF) return packDouble2x32(uvec2(0u, 0x7ff00000u));
    if (x < -745.1332191019412LF) return 0.0LF;
    const T LN2_HI = 6.93147180369123816490e-01LF;
    const T LN2_LO = 1.90821492927058770002e-10LF;
#else
    if (x > 88.72283905206835) return uintBitsToFloat(0x7f800000u);
    if (x < -103.97208) return 0.0;
    const T LN2_HI = 0.693145751953125;
    const T LN2_LO = 1.428606765330187045e-06;
#endif
    T k = floor(x * TC(1.4426950408889634) + TC(0.5));
    T r = (x - k * LN2_HI) - k * LN2_LO;
    T p = TC(1.0) / TC(6227020800.0);
    p = p * r + TC(1.0) / TC(479001600.0);
    p = p * r + TC(1.0) / TC(39916800.0);
    p = p * r + TC(1.0) / TC(3628800.0);
    p = p * r + TC(1.0) / TC(362880.0);
    p = p * r + TC(1.0) / TC(40320.0);
    p = p * r + TC(1.0) / TC(5040.0);
    p = p * r + TC(1.0) / TC(720.0);
    p = p * r + TC(1.0) / TC(120.0);
    p = p * r + TC(1.0) / TC(24.0);
    p = p * r + TC(1.0) / TC(6.0);
    p = p * r + TC(0.5);
    p = p * r + TC(1.0);
    p = p * r + TC(1.0);
    int ki = int(k);
    // ldexp in two steps so that 2^k itself never overflows or underflows when the result does not.
    int k1 = ki / 2;
    return ldexp(ldexp(p, k1), ki - k1);
}

// sin and cos of x: reduction by pi/2 with a three-part split of pi/2 (fdlibm for double, Cephes for float),
// then Taylor series on |r| <= pi/4 (error below 1e-18).
T t_sin_poly(T r) {
    T r2 = r * r;
    return r - r * r2 * (TC(1.0) / TC(6.0) - r2 * (TC(1.0) / TC(120.0) - r2 * (TC(1.0) / TC(5040.0)
            - r2 * (TC(1.0) / TC(362880.0) - r2 * (TC(1.0) / TC(39916800.0) - r2 * (TC(1.0) / TC(6227020800.0)
            - r2 * (TC(1.0) / TC(1307674368000.0) - r2 * (TC(1.0) / TC(355687428096000.0)))))))));
}

T t_cos_poly(T r) {
    T r2 = r * r;
    return TC(1.0) - r2 * (TC(0.5) - r2 * (TC(1.0) / TC(24.0) - r2 * (TC(1.0) / TC(720.0)
            - r2 * (TC(1.0) / TC(40320.0) - r2 * (TC(1.0) / TC(3628800.0) - r2 * (TC(1.0) / TC(479001600.0)
            - r2 * (TC(1.0) / TC(87178291200.0) - r2 * (TC(1.0) / TC(20922789888000.0)))))))));
}

// Returns (cos x, sin x).
void t_sincos(T x, out T c, out T s) {
#ifdef F64
    const T PIO2_1 = 1.57079632673412561417e+00LF;
    const T PIO2_2 = 6.07710050630396597660e-11LF;
    const T PIO2_3 = 2.02226624871116645580e-21LF;
#else
    const T PIO2_1 = 1.5703125;
    const T PIO2_2 = 4.837512969970703125e-4;
    const T PIO2_3 = 7.54978995489188216e-8;
#endif
    T k = floor(x * TC(0.63661977236758134308) + TC(0.5));
    T r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    T sr = t_sin_poly(r);
    T cr = t_cos_poly(r);
    int q = int(k - TC(4.0) * floor(k * TC(0.25)));
    if (q == 0) { c = cr; s = sr; }
    else if (q == 1) { c = -sr; s = cr; }
    else if (q == 2) { c = -cr; s = -sr; }
    else { c = sr; s = -cr; }
}
