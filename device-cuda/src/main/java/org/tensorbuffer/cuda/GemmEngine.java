package org.tensorbuffer.cuda;

import org.tensorbuffer.types.DType;

/**
 * Who runs {@link CudaKernels#gemm} on a device: cuBLAS where a {@code libcublas} is found ({@link CublasGemm}), else
 * the project's tiled PTX kernel ({@link TiledGemm}). Arguments are validated by the caller; addresses are raw
 * device addresses of the first element of each operand; everything else is as in
 * {@link org.tensorbuffer.device.Kernels#gemmStridedBatched} (row-major, strides in elements).
 */
interface GemmEngine extends AutoCloseable {

    /** What {@code devices} shows, e.g. {@code cuBLAS (libcublas.so.13)} or {@code tiled PTX kernel}. */
    String description();

    /** {@code batch} row-major GEMMs, issued on the device's stream. */
    void gemm(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
              long a, int lda, long strideA, long b, int ldb, long strideB, double beta,
              long c, int ldc, long strideC, int batch);

    /** Releases the engine's handles. */
    @Override
    void close();
}
