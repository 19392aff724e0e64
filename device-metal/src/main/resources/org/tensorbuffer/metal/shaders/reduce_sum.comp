// Row sums: dst[r] = sum_{i < inner} src[r * inner + i], one workgroup per row.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer S { T src[]; };
layout(set = 0, binding = 1) buffer D { T dst[]; };
layout(push_constant) uniform P { uint sOff; uint dOff; uint outer; uint inner; } p;
shared T red[256];
void main() {
    uint lid = gl_LocalInvocationID.x;
    for (uint r = gl_WorkGroupID.x; r < p.outer; r += gl_NumWorkGroups.x) {
        uint base = p.sOff + r * p.inner;
        T s = TC(0.0);
        for (uint i = lid; i < p.inner; i += 256u) {
            s += src[base + i];
        }
        red[lid] = s;
        barrier();
        for (uint h = 128u; h > 0u; h >>= 1) {
            if (lid < h) red[lid] += red[lid + h];
            barrier();
        }
        if (lid == 0u) dst[p.dOff + r] = red[0];
        barrier();
    }
}
