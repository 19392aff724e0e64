// out[i] = x[i] / (1 + exp(-x[i])); out may alias x exactly.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer X { T x[]; };
layout(set = 0, binding = 1) buffer O { T o[]; };
layout(push_constant) uniform P { uint xOff; uint oOff; uint n; } p;
void main() {
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        T v = x[p.xOff + i];
        o[p.oOff + i] = v / (TC(1.0) + t_exp(-v));
    }
}
