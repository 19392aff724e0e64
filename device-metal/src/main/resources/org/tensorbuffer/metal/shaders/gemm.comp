// Tiled GEMM, C = alpha * op(A) * op(B) + beta * C, row-major, batched over workgroup z.
// Each 16x16 workgroup computes a 16x16 tile of C, staging 16x16 tiles of op(A) and op(B) in shared memory.
// With beta == 0, C is not read.
layout(local_size_x = 16, local_size_y = 16) in;
layout(set = 0, binding = 0) buffer A { T a[]; };
layout(set = 0, binding = 1) buffer B { T b[]; };
layout(set = 0, binding = 2) buffer C { T c[]; };
layout(push_constant) uniform P {
    T alpha; T beta;
    uint aOff; uint bOff; uint cOff; uint m; uint n; uint k; uint lda; uint ldb; uint ldc;
    uint strideA; uint strideB; uint strideC; uint flags; uint batch;
} p;
shared T As[16][17];
shared T Bs[16][17];
void main() {
    uint lx = gl_LocalInvocationID.x;
    uint ly = gl_LocalInvocationID.y;
    uint row = gl_WorkGroupID.y * 16u + ly;
    uint col = gl_WorkGroupID.x * 16u + lx;
    bool ta = (p.flags & 1u) != 0u;
    bool tb = (p.flags & 2u) != 0u;
    for (uint z = gl_WorkGroupID.z; z < p.batch; z += gl_NumWorkGroups.z) {
        uint ab = p.aOff + z * p.strideA;
        uint bb = p.bOff + z * p.strideB;
        T acc = TC(0.0);
        for (uint t0 = 0u; t0 < p.k; t0 += 16u) {
            uint ac = t0 + lx;
            T av = TC(0.0);
            if (row < p.m && ac < p.k) av = ta ? a[ab + ac * p.lda + row] : a[ab + row * p.lda + ac];
            As[ly][lx] = av;
            uint br = t0 + ly;
            T bv = TC(0.0);
            if (br < p.k && col < p.n) bv = tb ? b[bb + col * p.ldb + br] : b[bb + br * p.ldb + col];
            Bs[ly][lx] = bv;
            barrier();
            for (uint kk = 0u; kk < 16u; kk++) {
                acc += As[ly][kk] * Bs[kk][lx];
            }
            barrier();
        }
        if (row < p.m && col < p.n) {
            uint ci = p.cOff + z * p.strideC + row * p.ldc + col;
            T r = p.alpha * acc;
            if (p.beta != TC(0.0)) r += p.beta * c[ci];
            c[ci] = r;
        }
    }
}
