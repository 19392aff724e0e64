// CUDA on the CPU: just enough of the CUDA C++ device language for kernels.cu to compile with g++ and run on host
// threads, so that CI can check the kernels without a GPU (issue 19). Not a general CUDA runtime.
//
// Execution model (kernels_on_cpu.cpp): a launch runs its blocks one after another; each block's threads are real
// POSIX threads (blockDim.x * blockDim.y * blockDim.z of them), so __syncthreads is a real barrier and a missing one
// is a real data race. Because only one block runs at a time, __shared__ variables are the function's statics: all
// threads of the running block see the same object, as on a GPU.
//
// Provided: __global__/__device__/__host__/__shared__/__forceinline__/__restrict__, threadIdx/blockIdx/blockDim/
// gridDim, warpSize, __syncthreads, __syncwarp, __shfl_sync/__shfl_up_sync/__shfl_down_sync/__shfl_xor_sync
// (warps of 32 consecutive linear thread ids; every lane of the warp must take part, as with a full mask),
// atomicAdd/atomicSub/atomicMax/atomicMin/atomicExch/atomicCAS on int, unsigned, unsigned long long, float and double
// (atomicAdd), __ldg, __threadfence*. Math functions are glibc's (<cmath>): within a few ulp of CUDA's.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

struct tb_uint3 {
    unsigned x, y, z;
};

namespace tbcpu {
extern thread_local tb_uint3 tl_threadIdx;
extern thread_local tb_uint3 tl_blockIdx;
extern tb_uint3 g_blockDim;
extern tb_uint3 g_gridDim;
void syncthreads();
void syncwarp();
// Exchanges one 8-byte value per lane of the calling thread's warp and returns the one of lane `src` (the caller's
// own value when src is outside [0, 32) or names a missing lane).
unsigned long long warpExchange(unsigned long long mine, int src);
int laneId();
}  // namespace tbcpu

#define threadIdx (tbcpu::tl_threadIdx)
#define blockIdx (tbcpu::tl_blockIdx)
#define blockDim (tbcpu::g_blockDim)
#define gridDim (tbcpu::g_gridDim)
#define warpSize 32

inline void __syncthreads() { tbcpu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { tbcpu::syncwarp(); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <typename T>
inline T __ldg(const T* p) { return *p; }

namespace tbcpu {
template <typename T>
inline T shuffle(T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of values up to 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    bits = warpExchange(bits, src);
    T r;
    std::memcpy(&r, &bits, sizeof(T));
    return r;
}
}  // namespace tbcpu

template <typename T>
inline T __shfl_sync(unsigned, T v, int srcLane, int width = 32) {
    int lane = tbcpu::laneId();
    return tbcpu::shuffle(v, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}

template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = tbcpu::laneId();
    int inSeg = lane & (width - 1);
    return tbcpu::shuffle(v, inSeg + (int) delta < width ? lane + (int) delta : lane);
}

template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = tbcpu::laneId();
    int inSeg = lane & (width - 1);
    return tbcpu::shuffle(v, inSeg >= (int) delta ? lane - (int) delta : lane);
}

template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int laneMask, int width = 32) {
    int lane = tbcpu::laneId();
    int src = lane ^ laneMask;
    return tbcpu::shuffle(v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}

template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
template <typename T>
inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T>
inline T atomicCAS(T* p, T expected, T desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
template <typename T>
inline T atomicMax(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <typename T>
inline T atomicMin(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
namespace tbcpu {
template <typename F, typename B>
inline F floatAdd(F* p, F v) {
    B* bp = reinterpret_cast<B*>(p);
    B old = __atomic_load_n(bp, __ATOMIC_SEQ_CST);
    for (;;) {
        F o;
        std::memcpy(&o, &old, sizeof(F));
        F n = o + v;
        B nb;
        std::memcpy(&nb, &n, sizeof(F));
        if (__atomic_compare_exchange_n(bp, &old, nb, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            return o;
        }
    }
}
}  // namespace tbcpu
inline float atomicAdd(float* p, float v) { return tbcpu::floatAdd<float, uint32_t>(p, v); }
inline double atomicAdd(double* p, double v) { return tbcpu::floatAdd<double, uint64_t>(p, v); }
