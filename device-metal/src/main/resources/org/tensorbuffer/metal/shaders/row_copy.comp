// One row moved by a row index read on the device (index_select / index_copy_ along dim 0 with one index), in
// 32-bit words whatever the element type: mode 0 (gather): dst[dstOff + e] = src[srcOff + r * n + e]; mode 1
// (scatter): dst[dstOff + r * n + e] = src[srcOff + e], for e < n words, with r = idx[idxOff] clamped to rows - 1
// (no access outside the table; the host checks the indices it writes).
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer S { uint src[]; };
layout(set = 0, binding = 1) buffer D { uint dst[]; };
layout(set = 0, binding = 2) buffer I { uint idx[]; };
layout(push_constant) uniform P { uint srcOff; uint dstOff; uint n; uint idxOff; uint rows; uint mode; } p;
void main() {
    uint r = min(idx[p.idxOff], p.rows - 1u);
    uint s = p.srcOff + (p.mode == 0u ? r * p.n : 0u);
    uint d = p.dstOff + (p.mode == 0u ? 0u : r * p.n);
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint e = gl_GlobalInvocationID.x; e < p.n; e += stride) {
        dst[d + e] = src[s + e];
    }
}
