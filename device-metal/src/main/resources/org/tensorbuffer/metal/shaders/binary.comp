// out[i] = a[i] op b[i]; op: 0 add, 1 sub, 2 mul, 3 div. out may alias a or b exactly.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer A { T a[]; };
layout(set = 0, binding = 1) buffer B { T b[]; };
layout(set = 0, binding = 2) buffer O { T o[]; };
layout(push_constant) uniform P { uint aOff; uint bOff; uint oOff; uint n; uint op; } p;
void main() {
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        T x = a[p.aOff + i];
        T y = b[p.bOff + i];
        T r;
        if (p.op == 0u) r = x + y;
        else if (p.op == 1u) r = x - y;
        else if (p.op == 2u) r = x * y;
        else r = x / y;
        o[p.oOff + i] = r;
    }
}
