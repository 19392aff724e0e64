// One workgroup per query head h (llama2.c run.c, grouped-query): kv head g = h / (nHeads / nKvHeads),
// att[h][t] = softmax_t(q[h] . k[t][g] / sqrt(headSize)) for t <= pos, out[h] = sum_t att[h][t] * v[t][g].
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer Q { T q[]; };
layout(set = 0, binding = 1) buffer K { T kc[]; };
layout(set = 0, binding = 2) buffer V { T vc[]; };
layout(set = 0, binding = 3) coherent buffer A { T att[]; };
layout(set = 0, binding = 4) buffer O { T o[]; };
layout(set = 0, binding = 5) buffer I { uint idx[]; };
layout(push_constant) uniform P {
    uint qOff; uint kOff; uint vOff; uint attOff; uint attStride; uint oOff;
    uint nHeads; uint nKvHeads; uint headSize; uint pos; uint posOff; uint posFromBuf;
} p;
shared T red[256];
void main() {
    uint lid = gl_LocalInvocationID.x;
    // with posFromBuf, the position written on the device (clamped: no access beyond attStride rows)
    uint pos = p.posFromBuf != 0u ? min(idx[p.posOff], p.attStride - 1u) : p.pos;
    uint hs = p.headSize;
    uint kvDim = p.nKvHeads * hs;
    uint kvMul = p.nHeads / p.nKvHeads;
    T scale = sqrt(T(hs));
    for (uint h = gl_WorkGroupID.x; h < p.nHeads; h += gl_NumWorkGroups.x) {
        uint g = h / kvMul;
        uint qb = p.qOff + h * hs;
        uint ab = p.attOff + h * p.attStride;
        T m = t_neg_inf();
        for (uint t = lid; t <= pos; t += 256u) {
            uint kb = p.kOff + t * kvDim + g * hs;
            T score = TC(0.0);
            for (uint i = 0u; i < hs; i++) {
                score += q[qb + i] * kc[kb + i];
            }
            score /= scale;
            att[ab + t] = score;
            m = max(m, score);
        }
        red[lid] = m;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (lid < s) red[lid] = max(red[lid], red[lid + s]);
            barrier();
        }
        T mx = red[0];
        barrier();
        T sum = TC(0.0);
        for (uint t = lid; t <= pos; t += 256u) {
            T e = t_exp(att[ab + t] - mx);
            att[ab + t] = e;
            sum += e;
        }
        red[lid] = sum;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (lid < s) red[lid] += red[lid + s];
            barrier();
        }
        T total = red[0];
        for (uint t = lid; t <= pos; t += 256u) {
            att[ab + t] = att[ab + t] / total;
        }
        memoryBarrierBuffer();
        barrier();
        for (uint i = lid; i < hs; i += 256u) {
            T acc = TC(0.0);
            for (uint t = 0u; t <= pos; t++) {
                acc += att[ab + t] * vc[p.vOff + t * kvDim + g * hs + i];
            }
            o[p.oOff + h * hs + i] = acc;
        }
        memoryBarrierBuffer();
        barrier();
    }
}
