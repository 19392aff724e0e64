// Rotary position embedding of one vector (llama2.c run.c): pair (2i, 2i+1) at head dimension hd = 2i % headSize
// is rotated by val = pos * freq[hd / 2], freq[j] = 1 / 10000^(2j / headSize) (a table the host computes once).
// out may alias x exactly. With posFromBuf != 0 the position is idx[posOff] (read on the device: a captured
// step replays at the position written there).
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer X { T x[]; };
layout(set = 0, binding = 1) buffer O { T o[]; };
layout(set = 0, binding = 2) buffer F { T f[]; };
layout(set = 0, binding = 3) buffer I { uint idx[]; };
layout(push_constant) uniform P {
    uint xOff; uint oOff; uint fOff; uint dim; uint headSize; uint pos; uint posOff; uint posFromBuf;
} p;
void main() {
    uint pos = p.posFromBuf != 0u ? idx[p.posOff] : p.pos;
    uint pairs = p.dim / 2u;
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < pairs; i += stride) {
        uint j = 2u * i;
        uint hd = j % p.headSize;
        T val = T(pos) * f[p.fOff + hd / 2u];
        T fcr;
        T fci;
        t_sincos(val, fcr, fci);
        T v0 = x[p.xOff + j];
        T v1 = x[p.xOff + j + 1u];
        o[p.oOff + j] = v0 * fcr - v1 * fci;
        o[p.oOff + j + 1u] = v0 * fci + v1 * fcr;
    }
}
