package org.tensorbuffer.cuda;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.KernelConformanceTest;

/** Core's kernel-conformance suite on GPU 0; skipped with the provider's reason where CUDA is unavailable. */
class CudaKernelConformanceTest extends KernelConformanceTest {
    @Override
    protected Device openDevice() {
        return CudaTestSupport.openOrSkip(AllocMode.SYNC);
    }
}
