/* A stand-in for libcublas.so and the memory-pool functions of libcuda.so.1, built by FfmBindingStubTest with gcc
 * (issue 19). Every function appends one line with all of its arguments to a log (stub_log), so the test sees the
 * exact values and order the FFM bindings pass. The GEMMs also compute their result on host memory with cuBLAS's
 * column-major semantics (C = alpha op(A) op(B) + beta C, cublas_api.h), so a binding that swaps operands, leading
 * dimensions or strides gives a wrong matrix, not only a different log line. Signatures from cublas_api.h and cuda.h
 * (v2 API, 32-bit int sizes, 64-bit long long strides). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char log_buf[1 << 16];
static size_t log_len;

static void logf_(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log_buf + log_len, sizeof log_buf - log_len, fmt, ap);
    va_end(ap);
    if (n > 0 && log_len + (size_t) n + 1 < sizeof log_buf) {
        log_len += (size_t) n;
        log_buf[log_len++] = '\n';
        log_buf[log_len] = 0;
    }
}

const char* stub_log(void) { return log_buf; }
void stub_reset(void) { log_len = 0; log_buf[0] = 0; }

/* ---- cuBLAS ---------------------------------------------------------------------------------------------------- */

typedef void* cublasHandle_t;
static char handle_storage[16];

int cublasCreate_v2(cublasHandle_t* handle) {
    *handle = handle_storage;
    logf_("cublasCreate_v2");
    return 0;
}

int cublasSetStream_v2(cublasHandle_t handle, void* stream) {
    logf_("cublasSetStream_v2 handle_ok=%d stream=%p", handle == handle_storage, stream);
    return 0;
}

int cublasDestroy_v2(cublasHandle_t handle) {
    logf_("cublasDestroy_v2 handle_ok=%d", handle == handle_storage);
    return 0;
}

#define GEMM(T, NAME, BATCHED_NAME)                                                                                 \
static void NAME##_compute(int ta, int tb, int m, int n, int k, T alpha, const T* A, int lda, long long sa,        \
                           const T* B, int ldb, long long sb, T beta, T* C, int ldc, long long sc, int batch) {    \
    for (int z = 0; z < batch; z++) {                                                                              \
        for (int j = 0; j < n; j++) {                                                                              \
            for (int i = 0; i < m; i++) {                                                                          \
                T acc = 0;                                                                                         \
                for (int p = 0; p < k; p++) {                                                                      \
                    T a = ta ? A[z * sa + i * (long long) lda + p] : A[z * sa + p * (long long) lda + i];          \
                    T b = tb ? B[z * sb + p * (long long) ldb + j] : B[z * sb + j * (long long) ldb + p];          \
                    acc += a * b;                                                                                  \
                }                                                                                                  \
                T* c = &C[z * sc + j * (long long) ldc + i];                                                       \
                *c = beta == 0 ? alpha * acc : alpha * acc + beta * *c;                                            \
            }                                                                                                      \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
int NAME(cublasHandle_t h, int ta, int tb, int m, int n, int k, const T* alpha, const T* A, int lda, const T* B,   \
         int ldb, const T* beta, T* C, int ldc) {                                                                  \
    logf_(#NAME " handle_ok=%d transa=%d transb=%d m=%d n=%d k=%d alpha=%g A=%p lda=%d B=%p ldb=%d beta=%g C=%p "  \
          "ldc=%d", h == handle_storage, ta, tb, m, n, k, (double) *alpha, (const void*) A, lda, (const void*) B,   \
          ldb, (double) *beta, (void*) C, ldc);                                                                    \
    if (ta > 1 || tb > 1 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;                         \
    NAME##_compute(ta, tb, m, n, k, *alpha, A, lda, 0, B, ldb, 0, *beta, C, ldc, 0, 1);                            \
    return 0;                                                                                                      \
}                                                                                                                  \
int BATCHED_NAME(cublasHandle_t h, int ta, int tb, int m, int n, int k, const T* alpha, const T* A, int lda,       \
                 long long sa, const T* B, int ldb, long long sb, const T* beta, T* C, int ldc, long long sc,      \
                 int batch) {                                                                                      \
    logf_(#BATCHED_NAME " handle_ok=%d transa=%d transb=%d m=%d n=%d k=%d alpha=%g A=%p lda=%d strideA=%lld "      \
          "B=%p ldb=%d strideB=%lld beta=%g C=%p ldc=%d strideC=%lld batch=%d", h == handle_storage, ta, tb, m, n,  \
          k, (double) *alpha, (const void*) A, lda, sa, (const void*) B, ldb, sb, (double) *beta, (void*) C, ldc,  \
          sc, batch);                                                                                              \
    if (ta > 1 || tb > 1 || lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;                         \
    NAME##_compute(ta, tb, m, n, k, *alpha, A, lda, sa, B, ldb, sb, *beta, C, ldc, sc, batch);                     \
    return 0;                                                                                                      \
}

GEMM(float, cublasSgemm_v2, cublasSgemmStridedBatched)
GEMM(double, cublasDgemm_v2, cublasDgemmStridedBatched)

/* ---- memory pools (libcuda.so.1) ------------------------------------------------------------------------------- */

int cuDeviceGetDefaultMemPool(void** pool, int dev) {
    logf_("cuDeviceGetDefaultMemPool dev=%d", dev);
    if (dev < 0) return 101; /* CUDA_ERROR_INVALID_DEVICE */
    *pool = (void*) (uintptr_t) (0xABCD00 + dev);
    return 0;
}

int cuMemPoolSetAttribute(void* pool, int attr, void* value) {
    logf_("cuMemPoolSetAttribute pool=%p attr=%d value=%llu", pool, attr,
          (unsigned long long) *(uint64_t*) value);
    return pool == 0 ? 400 : 0; /* CUDA_ERROR_INVALID_HANDLE */
}

int cuMemPoolGetAttribute(void* pool, int attr, void* value) {
    logf_("cuMemPoolGetAttribute pool=%p attr=%d", pool, attr);
    *(uint64_t*) value = 1000ull * (uint64_t) attr + 7;
    return pool == 0 ? 400 : 0;
}

int cuMemPoolTrimTo(void* pool, size_t keep) {
    logf_("cuMemPoolTrimTo pool=%p keep=%zu", pool, keep);
    return pool == 0 ? 400 : 0;
}
