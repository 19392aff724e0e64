// TensorBuffer CUDA kernels: every op of org.tensorbuffer.device.Kernels except the cuBLAS GEMM (a tiled GEMM is
// here as the fallback), plus the fills of CudaDevice.fill. Compiled to PTX by device-cuda/scripts/build-ptx.sh and
// loaded with cuModuleLoadData; the PTX is committed next to the Java sources.
//
// Conventions: pointers already include the caller's byte offset; counts and dimensions are in elements; 64-bit
// counts are `long long`; every elementwise kernel uses a grid-stride loop so that any grid size is correct.
// F32 kernels follow llama2.c's run.c float arithmetic (expf, sqrtf, powf, cosf, sinf; no fast-math) so that decode
// on the GPU reproduces the CPU's token ids; F64 kernels use the double versions. Entry points are extern "C" with a
// _f32 / _f64 (or _b<bytes>) suffix; CudaKernels looks them up by these names.

#include <cstdint>

#define BLOCK 256

namespace {

template <typename T> struct Math;
template <> struct Math<float> {
    __device__ static float exp(float x) { return expf(x); }
    __device__ static float sqrt(float x) { return sqrtf(x); }
    __device__ static float pow(float x, float y) { return powf(x, y); }
    __device__ static float cos(float x) { return cosf(x); }
    __device__ static float sin(float x) { return sinf(x); }
    __device__ static float lowest() { return -3.402823466e38f; }
};
template <> struct Math<double> {
    __device__ static double exp(double x) { return ::exp(x); }
    __device__ static double sqrt(double x) { return ::sqrt(x); }
    __device__ static double pow(double x, double y) { return ::pow(x, y); }
    __device__ static double cos(double x) { return ::cos(x); }
    __device__ static double sin(double x) { return ::sin(x); }
    __device__ static double lowest() { return -1.7976931348623157e308; }
};

__device__ inline long long globalIndex() {
    return (long long) blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ inline long long globalStride() {
    return (long long) gridDim.x * blockDim.x;
}

// Block-wide sum of one value per thread (blockDim.x == BLOCK); every thread gets the result.
template <typename T>
__device__ T blockSum(T v, T* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            shared[threadIdx.x] += shared[threadIdx.x + s];
        }
        __syncthreads();
    }
    T r = shared[0];
    __syncthreads();
    return r;
}

// Block-wide maximum (blockDim.x == BLOCK); every thread gets the result.
template <typename T>
__device__ T blockMax(T v, T* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            T o = shared[threadIdx.x + s];
            if (o > shared[threadIdx.x]) {
                shared[threadIdx.x] = o;
            }
        }
        __syncthreads();
    }
    T r = shared[0];
    __syncthreads();
    return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise

template <typename T>
__device__ void binaryImpl(int op, const T* a, const T* b, T* out, long long n) {
    for (long long i = globalIndex(); i < n; i += globalStride()) {
        T x = a[i];
        T y = b[i];
        T r;
        switch (op) {
            case 0: r = x + y; break;
            case 1: r = x - y; break;
            case 2: r = x * y; break;
            default: r = x / y; break;
        }
        out[i] = r;
    }
}

template <typename T>
__device__ void scaleImpl(const T* x, T* out, long long n, T alpha) {
    for (long long i = globalIndex(); i < n; i += globalStride()) {
        out[i] = alpha * x[i];
    }
}

template <typename T>
__device__ void siluImpl(const T* x, T* out, long long n) {
    for (long long i = globalIndex(); i < n; i += globalStride()) {
        T v = x[i];
        // run.c: val *= (1.0f / (1.0f + expf(-val)))
        out[i] = v * (T(1) / (T(1) + Math<T>::exp(-v)));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Row ops: one block per row (grid-stride over rows)

template <typename T>
__device__ void rmsnormImpl(const T* x, const T* w, T* out, int rows, int cols, T eps) {
    __shared__ T shared[BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + (long long) r * cols;
        T* outr = out + (long long) r * cols;
        T ss = 0;
        for (int j = threadIdx.x; j < cols; j += BLOCK) {
            ss += xr[j] * xr[j];
        }
        ss = blockSum(ss, shared);
        // run.c: ss /= size; ss += 1e-5f; ss = 1.0f / sqrtf(ss); o[j] = weight[j] * (ss * x[j])
        ss /= (T) cols;
        ss += eps;
        ss = T(1) / Math<T>::sqrt(ss);
        for (int j = threadIdx.x; j < cols; j += BLOCK) {
            outr[j] = w[j] * (ss * xr[j]);
        }
    }
}

template <typename T>
__device__ void softmaxImpl(const T* x, T* out, int rows, int cols, int validCols) {
    __shared__ T shared[BLOCK];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + (long long) r * cols;
        T* outr = out + (long long) r * cols;
        T m = Math<T>::lowest();
        for (int j = threadIdx.x; j < validCols; j += BLOCK) {
            T v = xr[j];
            if (v > m) {
                m = v;
            }
        }
        m = blockMax(m, shared);
        T s = 0;
        for (int j = threadIdx.x; j < validCols; j += BLOCK) {
            T e = Math<T>::exp(xr[j] - m);
            outr[j] = e;
            s += e;
        }
        s = blockSum(s, shared);
        for (int j = threadIdx.x; j < validCols; j += BLOCK) {
            outr[j] = outr[j] / s;
        }
        for (int j = validCols + threadIdx.x; j < cols; j += BLOCK) {
            outr[j] = 0;
        }
    }
}

template <typename T>
__device__ void ropeImpl(const T* x, T* out, int dim, int headSize, int pos) {
    for (long long p = globalIndex(); p < dim / 2; p += globalStride()) {
        int i = (int) (2 * p);
        int headDim = i % headSize;
        // run.c: freq = 1.0f / powf(10000.0f, head_dim / (float)head_size); val = pos * freq
        T freq = T(1) / Math<T>::pow(T(10000), (T) headDim / (T) headSize);
        T val = (T) pos * freq;
        T fcr = Math<T>::cos(val);
        T fci = Math<T>::sin(val);
        T v0 = x[i];
        T v1 = x[i + 1];
        out[i] = v0 * fcr - v1 * fci;
        out[i + 1] = v0 * fci + v1 * fcr;
    }
}

// One block per head: scores by t (each a sequential dot product as run.c), softmax over 0..pos, then each output
// element summed over t in order 0..pos as run.c does.
template <typename T>
__device__ void attentionImpl(const T* q, const T* kCache, const T* vCache, T* att, int attStride, T* out,
                              int nHeads, int nKvHeads, int headSize, int pos) {
    __shared__ T shared[BLOCK];
    int kvDim = nKvHeads * headSize;
    int kvMul = nHeads / nKvHeads;
    for (int h = blockIdx.x; h < nHeads; h += gridDim.x) {
        const T* qh = q + (long long) h * headSize;
        T* atth = att + (long long) h * attStride;
        int g = h / kvMul;
        T scale = Math<T>::sqrt((T) headSize);
        T m = Math<T>::lowest();
        for (int t = threadIdx.x; t <= pos; t += BLOCK) {
            const T* k = kCache + (long long) t * kvDim + (long long) g * headSize;
            T score = 0;
            for (int i = 0; i < headSize; i++) {
                score += qh[i] * k[i];
            }
            score /= scale;
            atth[t] = score;
            if (score > m) {
                m = score;
            }
        }
        m = blockMax(m, shared);
        T s = 0;
        for (int t = threadIdx.x; t <= pos; t += BLOCK) {
            T e = Math<T>::exp(atth[t] - m);
            atth[t] = e;
            s += e;
        }
        s = blockSum(s, shared);
        for (int t = threadIdx.x; t <= pos; t += BLOCK) {
            atth[t] = atth[t] / s;
        }
        __syncthreads();
        T* outh = out + (long long) h * headSize;
        for (int i = threadIdx.x; i < headSize; i += BLOCK) {
            T acc = 0;
            for (int t = 0; t <= pos; t++) {
                acc += atth[t] * vCache[(long long) t * kvDim + (long long) g * headSize + i];
            }
            outh[i] = acc;
        }
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------------------------------
// argmax: pass 1 reduces each block's range to (value, index); pass 2 reduces the partials in one block.

// Whether candidate (v, i) beats the current best (bv, bi): larger wins, the smaller index wins ties, NaN loses to
// any number, and among NaNs the smaller index wins (so an all-NaN input gives index 0).
template <typename T>
__device__ inline bool better(T v, long long i, T bv, long long bi) {
    bool vn = v != v;
    bool bn = bv != bv;
    if (vn || bn) {
        if (vn && bn) {
            return i < bi;
        }
        return bn;
    }
    return v > bv || (v == bv && i < bi);
}

template <typename T>
__device__ void argmaxReduce(T v, long long i, T* sv, long long* si, T* outV, long long* outI) {
    sv[threadIdx.x] = v;
    si[threadIdx.x] = i;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            T ov = sv[threadIdx.x + s];
            long long oi = si[threadIdx.x + s];
            if (better(ov, oi, sv[threadIdx.x], si[threadIdx.x])) {
                sv[threadIdx.x] = ov;
                si[threadIdx.x] = oi;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        *outV = sv[0];
        *outI = si[0];
    }
}

template <typename T>
__device__ void argmaxPartialImpl(const T* x, long long n, T* partV, long long* partI) {
    __shared__ T sv[BLOCK];
    __shared__ long long si[BLOCK];
    T bv = T(0) / T(0);
    long long bi = 0x7fffffffffffffffLL;
    for (long long i = globalIndex(); i < n; i += globalStride()) {
        T v = x[i];
        if (better(v, i, bv, bi)) {
            bv = v;
            bi = i;
        }
    }
    argmaxReduce(bv, bi, sv, si, partV + blockIdx.x, partI + blockIdx.x);
}

template <typename T>
__device__ void argmaxFinalImpl(const T* partV, const long long* partI, int parts, long long* result) {
    __shared__ T sv[BLOCK];
    __shared__ long long si[BLOCK];
    __shared__ T rv;
    T bv = T(0) / T(0);
    long long bi = 0x7fffffffffffffffLL;
    for (int p = threadIdx.x; p < parts; p += BLOCK) {
        if (better(partV[p], partI[p], bv, bi)) {
            bv = partV[p];
            bi = partI[p];
        }
    }
    argmaxReduce(bv, bi, sv, si, &rv, result);
}

// ---------------------------------------------------------------------------------------------------------------
// reduceSum: rows of `inner` elements; a thread per row for short rows, a block per row for long ones.

template <typename T>
__device__ void reduceSumRowsImpl(const T* src, T* dst, long long outer, long long inner) {
    for (long long o = globalIndex(); o < outer; o += globalStride()) {
        const T* r = src + o * inner;
        T s = 0;
        for (long long i = 0; i < inner; i++) {
            s += r[i];
        }
        dst[o] = s;
    }
}

template <typename T>
__device__ void reduceSumBlockImpl(const T* src, T* dst, long long outer, long long inner) {
    __shared__ T shared[BLOCK];
    for (long long o = blockIdx.x; o < outer; o += gridDim.x) {
        const T* r = src + o * inner;
        T s = 0;
        for (long long i = threadIdx.x; i < inner; i += BLOCK) {
            s += r[i];
        }
        s = blockSum(s, shared);
        if (threadIdx.x == 0) {
            dst[o] = s;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tiled GEMM (fallback when no cuBLAS is found). Row-major, C = alpha * op(A) op(B) + beta * C, batched over
// blockIdx.z (grid-stride). 16x16 tiles staged in shared memory.

#define TILE 16

template <typename T>
__device__ void gemmImpl(int transA, int transB, int m, int n, int k, T alpha,
                         const T* a, int lda, long long strideA, const T* b, int ldb, long long strideB, T beta,
                         T* c, int ldc, long long strideC, int batch) {
    __shared__ T as[TILE][TILE + 1];
    __shared__ T bs[TILE][TILE + 1];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    for (int z = blockIdx.z; z < batch; z += gridDim.z) {
        const T* az = a + (long long) z * strideA;
        const T* bz = b + (long long) z * strideB;
        T* cz = c + (long long) z * strideC;
        T acc = 0;
        for (int t = 0; t < k; t += TILE) {
            int ka = t + threadIdx.x;  // column of op(A) this thread loads
            int kb = t + threadIdx.y;  // row of op(B) this thread loads
            T av = 0;
            if (row < m && ka < k) {
                av = transA ? az[(long long) ka * lda + row] : az[(long long) row * lda + ka];
            }
            T bv = 0;
            if (kb < k && col < n) {
                bv = transB ? bz[(long long) col * ldb + kb] : bz[(long long) kb * ldb + col];
            }
            as[threadIdx.y][threadIdx.x] = av;
            bs[threadIdx.y][threadIdx.x] = bv;
            __syncthreads();
            for (int j = 0; j < TILE; j++) {
                acc += as[threadIdx.y][j] * bs[j][threadIdx.x];
            }
            __syncthreads();
        }
        if (row < m && col < n) {
            T* cp = cz + (long long) row * ldc + col;
            // With beta == 0, C is not read (NaNs in it do not propagate).
            *cp = beta == T(0) ? alpha * acc : alpha * acc + beta * *cp;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// stridedCopy: dst[rowMajor(i)] = src[sum_d i[d] * strides[d]], rank <= 8, elements moved as raw bits.

struct Dims8 {
    long long v[8];
};

// The axis loop is unrolled over the fixed 8 slots (inactive ones skipped) so that the by-value shape and strides
// are read straight from the parameter bank instead of a local copy. Index is `unsigned` when every index and offset
// fits in 32 bits (the common case, and 32-bit division is several times cheaper), else `long long`.
template <typename T, typename Index>
__device__ void stridedCopyImpl(const T* src, T* dst, long long total, int rank, Dims8 shape, Dims8 strides) {
    for (long long i = globalIndex(); i < total; i += globalStride()) {
        Index rem = (Index) i;
        Index off = 0;
#pragma unroll
        for (int d = 7; d >= 0; d--) {
            if (d < rank) {
                Index s = (Index) shape.v[d];
                Index idx = rem % s;
                rem /= s;
                off += idx * (Index) strides.v[d];
            }
        }
        dst[i] = src[off];
    }
}

template <typename T>
__device__ void fillImpl(T* dst, long long n, T pattern) {
    for (long long i = globalIndex(); i < n; i += globalStride()) {
        dst[i] = pattern;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Entry points

#define FLOAT_KERNELS(T, S)                                                                                         \
extern "C" __global__ void binary_##S(int op, const T* a, const T* b, T* out, long long n) {                       \
    binaryImpl<T>(op, a, b, out, n);                                                                                \
}                                                                                                                   \
extern "C" __global__ void scale_##S(const T* x, T* out, long long n, T alpha) {                                   \
    scaleImpl<T>(x, out, n, alpha);                                                                                 \
}                                                                                                                   \
extern "C" __global__ void silu_##S(const T* x, T* out, long long n) {                                             \
    siluImpl<T>(x, out, n);                                                                                         \
}                                                                                                                   \
extern "C" __global__ void rmsnorm_##S(const T* x, const T* w, T* out, int rows, int cols, T eps) {                \
    rmsnormImpl<T>(x, w, out, rows, cols, eps);                                                                     \
}                                                                                                                   \
extern "C" __global__ void softmax_##S(const T* x, T* out, int rows, int cols, int validCols) {                    \
    softmaxImpl<T>(x, out, rows, cols, validCols);                                                                  \
}                                                                                                                   \
extern "C" __global__ void rope_##S(const T* x, T* out, int dim, int headSize, int pos) {                          \
    ropeImpl<T>(x, out, dim, headSize, pos);                                                                        \
}                                                                                                                   \
extern "C" __global__ void attention_##S(const T* q, const T* k, const T* v, T* att, int attStride, T* out,        \
                                         int nHeads, int nKvHeads, int headSize, int pos) {                         \
    attentionImpl<T>(q, k, v, att, attStride, out, nHeads, nKvHeads, headSize, pos);                                \
}                                                                                                                   \
extern "C" __global__ void argmax_partial_##S(const T* x, long long n, T* partV, long long* partI) {               \
    argmaxPartialImpl<T>(x, n, partV, partI);                                                                       \
}                                                                                                                   \
extern "C" __global__ void argmax_final_##S(const T* partV, const long long* partI, int parts,                      \
                                            long long* result) {                                                    \
    argmaxFinalImpl<T>(partV, partI, parts, result);                                                                \
}                                                                                                                   \
extern "C" __global__ void reduce_sum_rows_##S(const T* src, T* dst, long long outer, long long inner) {           \
    reduceSumRowsImpl<T>(src, dst, outer, inner);                                                                   \
}                                                                                                                   \
extern "C" __global__ void reduce_sum_block_##S(const T* src, T* dst, long long outer, long long inner) {          \
    reduceSumBlockImpl<T>(src, dst, outer, inner);                                                                  \
}                                                                                                                   \
extern "C" __global__ void gemm_##S(int transA, int transB, int m, int n, int k, T alpha,                          \
                                    const T* a, int lda, long long strideA, const T* b, int ldb,                    \
                                    long long strideB, T beta, T* c, int ldc, long long strideC, int batch) {       \
    gemmImpl<T>(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch);   \
}

FLOAT_KERNELS(float, f32)
FLOAT_KERNELS(double, f64)

#define BITS_KERNELS(T, S)                                                                                          \
extern "C" __global__ void fill_##S(T* dst, long long n, T pattern) {                                              \
    fillImpl<T>(dst, n, pattern);                                                                                   \
}                                                                                                                   \
extern "C" __global__ void strided_copy_##S(const T* src, T* dst, long long total, int rank, Dims8 shape,          \
                                            Dims8 strides) {                                                        \
    stridedCopyImpl<T, long long>(src, dst, total, rank, shape, strides);                                           \
}                                                                                                                   \
extern "C" __global__ void strided_copy32_##S(const T* src, T* dst, long long total, int rank, Dims8 shape,        \
                                              Dims8 strides) {                                                      \
    stridedCopyImpl<T, unsigned>(src, dst, total, rank, shape, strides);                                            \
}

BITS_KERNELS(uint8_t, b1)
BITS_KERNELS(uint16_t, b2)
BITS_KERNELS(uint32_t, b4)
BITS_KERNELS(unsigned long long, b8)
