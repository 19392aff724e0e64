// Strided gather into a contiguous destination, type-free on 32-bit words: elements of 2, 4 or 8 bytes
// (esize). dst[i] = src[srcOff + sum_d idx_d(i) * strides[d]] with idx the row-major index tuple of i in shape.
// Offsets are in elements relative to the bound ranges. 2-byte elements are merged into words with atomics.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer S { uint src[]; };
layout(set = 0, binding = 1) buffer D { uint dst[]; };
layout(push_constant) uniform P {
    uint srcOff; uint dstOff; uint total; uint rank; uint esize;
    uint shape[8];
    int strides[8];
} p;
void main() {
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < p.total; i += stride) {
        uint rem = i;
        int off = 0;
        for (int d = int(p.rank) - 1; d >= 0; d--) {
            uint ext = p.shape[d];
            uint idx = rem % ext;
            rem /= ext;
            off += int(idx) * p.strides[d];
        }
        uint s = uint(int(p.srcOff) + off);
        uint t = p.dstOff + i;
        if (p.esize == 4u) {
            dst[t] = src[s];
        } else if (p.esize == 8u) {
            dst[2u * t] = src[2u * s];
            dst[2u * t + 1u] = src[2u * s + 1u];
        } else {
            uint v = (src[s >> 1] >> ((s & 1u) * 16u)) & 0xffffu;
            uint sh = (t & 1u) * 16u;
            atomicAnd(dst[t >> 1], ~(0xffffu << sh));
            atomicOr(dst[t >> 1], v << sh);
        }
    }
}
