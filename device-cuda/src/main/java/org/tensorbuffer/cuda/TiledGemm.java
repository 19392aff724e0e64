package org.tensorbuffer.cuda;

import org.tensorbuffer.types.DType;

/**
 * GEMM with the project's own kernel ({@code gemm_f32}/{@code gemm_f64} in {@code kernels.cu}): 16 x 16 output tiles,
 * operands staged through shared memory, the batch on the grid's z axis. Used where no cuBLAS library is found; far
 * slower than cuBLAS on large matrices, but exact in the same sense (one fused multiply-add chain per output).
 * Thread-safe (launches are ordered on the device's stream).
 */
final class TiledGemm implements GemmEngine {
    private static final int TILE = 16;
    private static final int MAX_GRID_Z = 65535;
    /** Rows per launch: the grid's y dimension is limited to 65535 tiles. */
    private static final int MAX_ROWS = 65535 * TILE;
    private final PtxModule module;
    private final long stream;

    TiledGemm(PtxModule module, long stream) {
        this.module = module;
        this.stream = stream;
    }

    @Override
    public String description() {
        return "tiled PTX kernel";
    }

    @Override
    public void gemm(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                     long a, int lda, long strideA, long b, int ldb, long strideB, double beta,
                     long c, int ldc, long strideC, int batch) {
        String fn = dtype == DType.F32 ? "gemm_f32" : "gemm_f64";
        int es = dtype.byteSize();
        for (int row = 0; row < m; row += MAX_ROWS) {
            int rows = Math.min(MAX_ROWS, m - row);
            // Row r of op(A) is row r of A, or column r of A when transposed.
            long aRow = a + (long) row * (transA ? 1 : lda) * es;
            long cRow = c + (long) row * ldc * es;
            KernelArgs args = new KernelArgs()
                    .i32(transA ? 1 : 0).i32(transB ? 1 : 0).i32(rows).i32(n).i32(k).real(dtype, alpha)
                    .ptr(aRow).i32(lda).i64(strideA).ptr(b).i32(ldb).i64(strideB).real(dtype, beta)
                    .ptr(cRow).i32(ldc).i64(strideC).i32(batch);
            module.launch(fn, (n + TILE - 1) / TILE, (rows + TILE - 1) / TILE, Math.min(batch, MAX_GRID_Z), TILE,
                    TILE, stream, args);
        }
    }

    @Override
    public void close() {
        // Nothing of its own: the module belongs to the kernels.
    }
}
