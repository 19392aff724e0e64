// Index of the largest of n elements: the first on ties; NaN loses to any number; all NaN gives index 0.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer X { T x[]; };
layout(set = 0, binding = 1) buffer R { uint result[]; };
layout(push_constant) uniform P { uint xOff; uint n; uint rOff; } p;
shared T sv[256];
shared uint si[256];
const uint NONE = 0xffffffffu;
// whether candidate (v, i) beats the current best (bv, bi)
bool better(T v, uint i, T bv, uint bi) {
    if (i == NONE) return false;
    if (bi == NONE) return true;
    bool vn = isnan(v);
    bool bn = isnan(bv);
    if (vn != bn) return bn;
    if (vn) return i < bi;
    return v > bv || (v == bv && i < bi);
}
void main() {
    uint lid = gl_LocalInvocationID.x;
    T bv = TC(0.0);
    uint bi = NONE;
    for (uint i = lid; i < p.n; i += 256u) {
        T v = x[p.xOff + i];
        if (better(v, i, bv, bi)) { bv = v; bi = i; }
    }
    sv[lid] = bv;
    si[lid] = bi;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (lid < s && better(sv[lid + s], si[lid + s], sv[lid], si[lid])) {
            sv[lid] = sv[lid + s];
            si[lid] = si[lid + s];
        }
        barrier();
    }
    if (lid == 0u) result[p.rOff] = si[0];
}
