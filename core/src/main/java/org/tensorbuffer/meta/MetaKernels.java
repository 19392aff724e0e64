package org.tensorbuffer.meta;

import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.types.DType;

/** The kernels of the {@link MetaDevice}: each returns at once without reading or writing memory. */
final class MetaKernels implements Kernels {
    @Override
    public void gemmStridedBatched(DType dtype, boolean transA, boolean transB, int m, int n, int k, double alpha,
                                   DeviceBuffer a, long aOffset, int lda, long strideA, DeviceBuffer b, long bOffset,
                                   int ldb, long strideB, double beta, DeviceBuffer c, long cOffset, int ldc,
                                   long strideC, int batch) {
    }

    @Override
    public void binary(BinaryOp op, DType dtype, DeviceBuffer a, long aOffset, DeviceBuffer b, long bOffset,
                       DeviceBuffer out, long outOffset, long n) {
    }

    @Override
    public void scale(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n,
                      double alpha) {
    }

    @Override
    public void rmsnorm(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer weight, long weightOffset,
                        DeviceBuffer out, long outOffset, int rows, int cols, double eps) {
    }

    @Override
    public void softmax(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int rows,
                        int cols, int validCols) {
    }

    @Override
    public void silu(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, long n) {
    }

    @Override
    public void rope(DType dtype, DeviceBuffer x, long xOffset, DeviceBuffer out, long outOffset, int dim,
                     int headSize, int pos) {
    }

    @Override
    public void attention(DType dtype, DeviceBuffer q, long qOffset, DeviceBuffer kCache, long kOffset,
                          DeviceBuffer vCache, long vOffset, DeviceBuffer att, long attOffset, int attStride,
                          DeviceBuffer out, long outOffset, int nHeads, int nKvHeads, int headSize, int pos) {
    }

    /** Always 0: there are no values to compare. */
    @Override
    public long argmax(DType dtype, DeviceBuffer x, long xOffset, long n) {
        return 0;
    }

    @Override
    public void stridedCopy(DType dtype, DeviceBuffer src, long srcOffset, long[] shape, long[] srcStrides,
                            DeviceBuffer dst, long dstOffset) {
    }

    @Override
    public void reduceSum(DType dtype, DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long outer,
                          long inner) {
    }
}
