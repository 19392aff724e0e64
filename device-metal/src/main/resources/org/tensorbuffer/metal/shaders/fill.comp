// Fills byteCount bytes from byteOff (both multiples of the pattern's 2, 4 or 8 bytes) with a repeating pattern,
// working on 32-bit words; a word only partly inside the range is updated with atomics so the bytes around the
// range are kept. Type-free: the host turns the value into the pattern's bytes.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer W { uint words[]; };
layout(push_constant) uniform P { uint byteOff; uint byteCount; uint patLen; uint patLo; uint patHi; } p;
void main() {
    uint first = p.byteOff / 4u;
    uint end = (p.byteOff + p.byteCount + 3u) / 4u;
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint w = first + gl_GlobalInvocationID.x; w < end; w += stride) {
        uint val = 0u;
        uint mask = 0u;
        for (uint q = 0u; q < 4u; q++) {
            uint bb = w * 4u + q;
            if (bb >= p.byteOff && bb - p.byteOff < p.byteCount) {
                uint pi = (bb - p.byteOff) % p.patLen;
                uint pb = pi < 4u ? (p.patLo >> (8u * pi)) & 0xffu : (p.patHi >> (8u * (pi - 4u))) & 0xffu;
                val |= pb << (8u * q);
                mask |= 0xffu << (8u * q);
            }
        }
        if (mask == 0xffffffffu) {
            words[w] = val;
        } else {
            atomicAnd(words[w], ~mask);
            atomicOr(words[w], val);
        }
    }
}
