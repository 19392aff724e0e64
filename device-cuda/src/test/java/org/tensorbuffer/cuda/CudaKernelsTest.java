package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * What the CUDA kernels do beyond core's kernel-conformance suite ({@link CudaKernelConformanceTest} on a GPU,
 * {@link KernelsOnCpuTest} on the CPU): the launcher's axis merging and its range checks on a real device (skipped
 * without CUDA).
 */
class CudaKernelsTest {

    /** A rank-8 copy whose first axis is the fastest in memory cannot merge axes: all eight reach the kernel. */
    @Test
    void rankEightHypercubeKeepsEveryAxis() {
        long[] shape = {2, 2, 2, 2, 2, 2, 2, 2};
        long[] strides = new long[8];
        for (int d = 0; d < 8; d++) {
            strides[d] = 1L << d;
        }
        assertThat(CudaKernels.mergeAxes(shape, strides)).hasSize(8);
        assertThat(CudaKernels.mergeAxes(new long[] {3, 4, 5}, new long[] {20, 5, 1})).hasSize(1);
    }

    @Test
    void badRangesAreRejected() {
        try (CudaDevice device = CudaTestSupport.openOrSkip(AllocMode.SYNC)) {
            DeviceBuffer b = device.allocate(64, 256);
            assertThatThrownBy(() -> device.kernels().scale(DType.F32, b, 0, b, 0, 17, 2))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            device.free(b);
        }
    }
}
