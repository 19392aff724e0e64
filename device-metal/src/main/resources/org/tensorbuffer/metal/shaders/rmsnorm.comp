// One workgroup per row: out[r][j] = w[j] * (x[r][j] * (1 / sqrt(mean(x[r]^2) + eps))), as llama2.c's rmsnorm.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer X { T x[]; };
layout(set = 0, binding = 1) buffer W { T w[]; };
layout(set = 0, binding = 2) buffer O { T o[]; };
layout(push_constant) uniform P { T eps; uint xOff; uint wOff; uint oOff; uint rows; uint cols; } p;
shared T red[256];
void main() {
    uint lid = gl_LocalInvocationID.x;
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint base = p.xOff + r * p.cols;
        T ss = TC(0.0);
        for (uint j = lid; j < p.cols; j += 256u) {
            T v = x[base + j];
            ss += v * v;
        }
        red[lid] = ss;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (lid < s) red[lid] += red[lid + s];
            barrier();
        }
        T inv = TC(1.0) / sqrt(red[0] / T(p.cols) + p.eps);
        barrier();
        uint obase = p.oOff + r * p.cols;
        for (uint j = lid; j < p.cols; j += 256u) {
            o[obase + j] = w[p.wOff + j] * (inv * x[base + j]);
        }
        barrier();
    }
}
