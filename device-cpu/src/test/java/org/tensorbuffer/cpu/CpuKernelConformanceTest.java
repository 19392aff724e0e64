package org.tensorbuffer.cpu;

import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.KernelConformanceTest;

/** Core's kernel-conformance suite on the CPU device. */
class CpuKernelConformanceTest extends KernelConformanceTest {
    @Override
    protected Device openDevice() {
        return new CpuDevice();
    }
}
