// One workgroup per row: softmax over the first `valid` of `cols` elements, the rest of the row set to 0.
// out may alias x exactly.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) buffer X { T x[]; };
layout(set = 0, binding = 1) buffer O { T o[]; };
layout(push_constant) uniform P { uint xOff; uint oOff; uint rows; uint cols; uint valid; } p;
shared T red[256];
void main() {
    uint lid = gl_LocalInvocationID.x;
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        uint xb = p.xOff + r * p.cols;
        uint ob = p.oOff + r * p.cols;
        T m = TC(0.0);
        bool any = false;
        for (uint j = lid; j < p.valid; j += 256u) {
            T v = x[xb + j];
            if (!any || v > m) m = v;
            any = true;
        }
        red[lid] = any ? m : t_neg_inf();
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (lid < s) red[lid] = max(red[lid], red[lid + s]);
            barrier();
        }
        T mx = red[0];
        barrier();
        T sum = TC(0.0);
        for (uint j = lid; j < p.valid; j += 256u) {
            T e = t_exp(x[xb + j] - mx);
            o[ob + j] = e;
            sum += e;
        }
        red[lid] = sum;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (lid < s) red[lid] += red[lid + s];
            barrier();
        }
        T total = red[0];
        for (uint j = lid; j < p.valid; j += 256u) {
            o[ob + j] = o[ob + j] / total;
        }
        for (uint j = p.valid + lid; j < p.cols; j += 256u) {
            o[ob + j] = TC(0.0);
        }
        barrier();
    }
}
