// GEMM for thin shapes (m == 1 or n == 1, as in matrix-vector products during decode): one workgroup of 64
// invocations per element of C reduces its dot product of length k. Same push constants as gemm.comp.
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer A { T a[]; };
layout(set = 0, binding = 1) buffer B { T b[]; };
layout(set = 0, binding = 2) buffer C { T c[]; };
layout(push_constant) uniform P {
    T alpha; T beta;
    uint aOff; uint bOff; uint cOff; uint m; uint n; uint k; uint lda; uint ldb; uint ldc;
    uint strideA; uint strideB; uint strideC; uint flags; uint batch;
} p;
shared T red[64];
void main() {
    uint lid = gl_LocalInvocationID.x;
    bool ta = (p.flags & 1u) != 0u;
    bool tb = (p.flags & 2u) != 0u;
    uint outs = p.m * p.n;
    for (uint z = gl_WorkGroupID.z; z < p.batch; z += gl_NumWorkGroups.z) {
        uint ab = p.aOff + z * p.strideA;
        uint bb = p.bOff + z * p.strideB;
        for (uint o = gl_WorkGroupID.x; o < outs; o += gl_NumWorkGroups.x) {
            uint row = o / p.n;
            uint col = o % p.n;
            T acc = TC(0.0);
            for (uint t = lid; t < p.k; t += 64u) {
                T av = ta ? a[ab + t * p.lda + row] : a[ab + row * p.lda + t];
                T bv = tb ? b[bb + col * p.ldb + t] : b[bb + t * p.ldb + col];
                acc += av * bv;
            }
            red[lid] = acc;
            barrier();
            for (uint s = 32u; s > 0u; s >>= 1) {
                if (lid < s) red[lid] += red[lid + s];
                barrier();
            }
            if (lid == 0u) {
                uint ci = p.cOff + z * p.strideC + row * p.ldc + col;
                T r = p.alpha * red[0];
                if (p.beta != TC(0.0)) r += p.beta * c[ci];
                c[ci] = r;
            }
            barrier();
        }
    }
}
