// kernels.cu compiled for the CPU through cuda_on_cpu.h, with a launcher that the JUnit tests call through FFM
// (issue 19). Built by the tests with: g++ -O2 -std=c++17 -shared -fPIC -pthread -I<src/main/cuda> ...
//
// C API (all return 0 on success or a CUresult code):
//   tb_entries()                         comma-separated names of every registered entry point
//   tb_has(name)                         1 if `name` is registered
//   tb_launch(name, gx, gy, gz, bx, by, bz, args, independent)
//                                        runs the kernel like cuLaunchKernel with kernelParams `args`; with
//                                        independent != 0 (the caller found no barrier and no shared memory in the
//                                        entry's PTX) a thread goes on to its next block without waiting for the rest
//                                        of the block, which is what makes 65535-block launches affordable; checks the
//                                        launch limits of every GPU since Volta (block <= 1024 threads, blockZ <= 64,
//                                        gridY/gridZ <= 65535) -> 1 (CUDA_ERROR_INVALID_VALUE); unknown name -> 500
//   tb_launch_count(name)                launches of `name` so far
//   tb_alloc(bytes) / tb_free(p)         "device" memory: the block ends 0..255 bytes before an inaccessible page
//                                        (PROT_NONE) and starts after one, so that out-of-bounds accesses fault
#include "cuda_on_cpu.h"

#include "kernels.cu"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tbcpu {
thread_local tb_uint3 tl_threadIdx;
thread_local tb_uint3 tl_blockIdx;
tb_uint3 g_blockDim;
tb_uint3 g_gridDim;

namespace {
pthread_barrier_t g_block;
std::vector<pthread_barrier_t> g_warps;
std::vector<unsigned long long> g_slots;  // 32 per warp
unsigned g_threads;
thread_local unsigned tl_linear;
}  // namespace

void syncthreads() { pthread_barrier_wait(&g_block); }

int laneId() { return (int) (tl_linear % 32); }

void syncwarp() { pthread_barrier_wait(&g_warps[tl_linear / 32]); }

unsigned long long warpExchange(unsigned long long mine, int src) {
    unsigned warp = tl_linear / 32;
    unsigned lanes = g_threads - warp * 32 < 32 ? g_threads - warp * 32 : 32;
    unsigned long long* slots = &g_slots[warp * 32];
    slots[tl_linear % 32] = mine;
    syncwarp();
    unsigned long long r = src >= 0 && (unsigned) src < lanes ? slots[src] : mine;
    syncwarp();
    return r;
}
}  // namespace tbcpu

namespace {

template <typename... A, std::size_t... I>
void invokeImpl(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type*>(args[I])...);
}

template <typename... A>
void invokeWith(void (*f)(A...), void** args) {
    invokeImpl(f, args, std::index_sequence_for<A...>{});
}

using Entry = void (*)(void**);

#define E(name) {#name, [](void** a) { invokeWith(name, a); }},
#define FLOAT_ENTRIES(S)                                                                                           \
    E(binary_##S) E(scale_##S) E(silu_##S) E(rmsnorm_##S) E(softmax_##S) E(rope_##S) E(attention_##S)             \
    E(argmax_partial_##S) E(argmax_final_##S) E(reduce_sum_rows_##S) E(reduce_sum_block_##S) E(gemm_##S)
#define BITS_ENTRIES(S) E(fill_##S) E(strided_copy_##S) E(strided_copy32_##S)

const std::vector<std::pair<std::string, Entry>>& registry() {
    static const std::vector<std::pair<std::string, Entry>> r = {
        FLOAT_ENTRIES(f32) FLOAT_ENTRIES(f64) BITS_ENTRIES(b1) BITS_ENTRIES(b2) BITS_ENTRIES(b4) BITS_ENTRIES(b8)
    };
    return r;
}

std::mutex g_launch;  // one launch at a time: __shared__ statics belong to the one running block
std::map<std::string, long long> g_counts;
std::map<void*, std::pair<void*, size_t>> g_maps;
std::mutex g_alloc;

Entry find(const char* name) {
    for (auto& e : registry()) {
        if (e.first == name) {
            return e.second;
        }
    }
    return nullptr;
}

struct Launch {
    Entry entry;
    void** args;
    unsigned linear;
    bool independent;
};

void* worker(void* p) {
    Launch* l = static_cast<Launch*>(p);
    unsigned t = l->linear;
    tbcpu::tl_linear = t;
    tb_uint3 bd = tbcpu::g_blockDim;
    tbcpu::tl_threadIdx = {t % bd.x, (t / bd.x) % bd.y, t / (bd.x * bd.y)};
    tb_uint3 gd = tbcpu::g_gridDim;
    unsigned long long blocks = (unsigned long long) gd.x * gd.y * gd.z;
    for (unsigned long long b = 0; b < blocks; b++) {
        tbcpu::tl_blockIdx = {(unsigned) (b % gd.x), (unsigned) ((b / gd.x) % gd.y),
                              (unsigned) (b / ((unsigned long long) gd.x * gd.y))};
        l->entry(l->args);
        if (!l->independent) {
            pthread_barrier_wait(&tbcpu::g_block);  // the block is done before any thread starts the next
        }
    }
    return nullptr;
}

}  // namespace

extern "C" {

const char* tb_entries() {
    static std::string names;
    if (names.empty()) {
        for (auto& e : registry()) {
            names += (names.empty() ? "" : ",") + e.first;
        }
    }
    return names.c_str();
}

int tb_has(const char* name) { return find(name) != nullptr; }

long long tb_launch_count(const char* name) {
    std::lock_guard<std::mutex> g(g_launch);
    auto it = g_counts.find(name);
    return it == g_counts.end() ? 0 : it->second;
}

int tb_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
              void** args, int independent) {
    Entry entry = find(name);
    if (entry == nullptr) {
        return 500;  // CUDA_ERROR_NOT_FOUND
    }
    unsigned long long threads = (unsigned long long) bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || threads > 1024 || bz > 64 ||
        gy > 65535 || gz > 65535 || gx > 0x7fffffffu) {
        return 1;  // CUDA_ERROR_INVALID_VALUE
    }
    std::lock_guard<std::mutex> g(g_launch);
    g_counts[name]++;
    tbcpu::g_blockDim = {bx, by, bz};
    tbcpu::g_gridDim = {gx, gy, gz};
    tbcpu::g_threads = (unsigned) threads;
    pthread_barrier_init(&tbcpu::g_block, nullptr, (unsigned) threads);
    unsigned warps = (unsigned) ((threads + 31) / 32);
    tbcpu::g_warps.assign(warps, pthread_barrier_t());
    tbcpu::g_slots.assign(warps * 32, 0);
    for (unsigned w = 0; w < warps; w++) {
        unsigned lanes = (unsigned) (threads - w * 32 < 32 ? threads - w * 32 : 32);
        pthread_barrier_init(&tbcpu::g_warps[w], nullptr, lanes);
    }
    std::vector<Launch> ls(threads);
    std::vector<pthread_t> ts(threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = 0;
    unsigned started = 0;
    for (unsigned t = 0; t < threads; t++) {
        ls[t] = {entry, args, t, independent != 0};
        if (pthread_create(&ts[t], &attr, worker, &ls[t]) != 0) {
            rc = 2;  // CUDA_ERROR_OUT_OF_MEMORY: could not start the block's threads
            break;
        }
        started++;
    }
    if (rc != 0) {
        // The started threads wait at the first barrier forever; a failed start is fatal for the test process.
        std::abort();
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(ts[t], nullptr);
    }
    pthread_attr_destroy(&attr);
    for (auto& w : tbcpu::g_warps) {
        pthread_barrier_destroy(&w);
    }
    pthread_barrier_destroy(&tbcpu::g_block);
    return rc;
}

void* tb_alloc(size_t bytes) {
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    size_t rounded = (bytes + 255) / 256 * 256;
    size_t span = (rounded + page - 1) / page * page;
    size_t total = span + 2 * page;
    void* base = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        return nullptr;
    }
    char* body = static_cast<char*>(base) + page;
    if (span > 0 && mprotect(body, span, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, total);
        return nullptr;
    }
    void* p = body + span - rounded;
    std::lock_guard<std::mutex> g(g_alloc);
    g_maps[p] = {base, total};
    return p;
}

int tb_free(void* p) {
    std::lock_guard<std::mutex> g(g_alloc);
    auto it = g_maps.find(p);
    if (it == g_maps.end()) {
        return 1;
    }
    munmap(it->second.first, it->second.second);
    g_maps.erase(it);
    return 0;
}

}  // extern "C"

// ---- self-test of the shim's warp intrinsics and atomics (kernels.cu uses none of them today) -----------------
namespace {
__global__ void shim_selftest_kernel(unsigned long long* sum, int* maxLane, float* fsum, int* bad) {
    int v = (int) (blockIdx.x * blockDim.x + threadIdx.x);
    int s = v;
    for (int o = 16; o > 0; o >>= 1) {
        s += __shfl_xor_sync(0xffffffffu, s, o);  // butterfly: every lane gets the warp's sum
    }
    int d = __shfl_down_sync(0xffffffffu, v, 1);
    int u = __shfl_up_sync(0xffffffffu, v, 1);
    int b = __shfl_sync(0xffffffffu, v, 3);
    int lane = (int) (threadIdx.x % 32);
    int base = v - lane;
    int warpSum = 32 * base + 496;
    if (s != warpSum || d != (lane == 31 ? v : v + 1) || u != (lane == 0 ? v : v - 1) || b != base + 3) {
        atomicAdd(bad, 1);
    }
    atomicAdd(sum, (unsigned long long) v);
    atomicMax(maxLane, v);
    atomicAdd(fsum, 1.0f);
    __syncwarp();
}
}  // namespace

extern "C" int tb_selftest() {
    static unsigned long long sum;
    static int maxLane;
    static float fsum;
    static int bad;
    sum = 0;
    maxLane = -1;
    fsum = 0;
    bad = 0;
    unsigned long long* ps = &sum;
    int* pm = &maxLane;
    float* pf = &fsum;
    int* pb = &bad;
    void* args[] = {&ps, &pm, &pf, &pb};
    std::lock_guard<std::mutex> g(g_launch);
    // 3 blocks of 64 threads (2 warps each), through the same worker code as tb_launch
    tbcpu::g_blockDim = {64, 1, 1};
    tbcpu::g_gridDim = {3, 1, 1};
    tbcpu::g_threads = 64;
    pthread_barrier_init(&tbcpu::g_block, nullptr, 64);
    tbcpu::g_warps.assign(2, pthread_barrier_t());
    tbcpu::g_slots.assign(64, 0);
    for (auto& w : tbcpu::g_warps) {
        pthread_barrier_init(&w, nullptr, 32);
    }
    Entry e = [](void** a) { invokeWith(shim_selftest_kernel, a); };
    std::vector<Launch> ls(64);
    std::vector<pthread_t> ts(64);
    for (unsigned t = 0; t < 64; t++) {
        ls[t] = {e, args, t, false};
        pthread_create(&ts[t], nullptr, worker, &ls[t]);
    }
    for (auto& t : ts) {
        pthread_join(t, nullptr);
    }
    for (auto& w : tbcpu::g_warps) {
        pthread_barrier_destroy(&w);
    }
    pthread_barrier_destroy(&tbcpu::g_block);
    int n = 3 * 64;
    int failures = bad;
    if (sum != (unsigned long long) n * (n - 1) / 2) failures += 1000;
    if (maxLane != n - 1) failures += 10000;
    if (fsum != (float) n) failures += 100000;
    return failures;
}
