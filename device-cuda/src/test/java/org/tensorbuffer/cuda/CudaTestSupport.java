package org.tensorbuffer.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import org.tensorbuffer.device.DeviceBuffer;

/** Opens the GPU for tests, or skips them with the provider's reason; raw byte reads. */
final class CudaTestSupport {
    private static final CudaDeviceProvider PROVIDER = new CudaDeviceProvider();

    private CudaTestSupport() {
    }

    /** GPU 0 in the given mode; skips the calling test with the provider's reason if CUDA is unavailable. */
    static CudaDevice openOrSkip(AllocMode mode) {
        String reason = PROVIDER.unavailableReason();
        assumeTrue(reason == null, () -> "CUDA unavailable: " + reason);
        return new CudaDevice(0, mode);
    }

    /** Raw bytes of a buffer. */
    static byte[] bytes(CudaDevice d, DeviceBuffer b, long offset, int n) {
        byte[] r = new byte[n];
        d.copyToHost(b, offset, MemorySegment.ofArray(r), 0, n);
        return r;
    }
}
