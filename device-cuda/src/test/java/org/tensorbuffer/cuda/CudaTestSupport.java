package org.tensorbuffer.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;

/** Opens the GPU for tests, or skips them with the provider's reason; host/device helpers. */
final class CudaTestSupport {
    private static final CudaDeviceProvider PROVIDER = new CudaDeviceProvider();

    private CudaTestSupport() {
    }

    /** GPU 0 in the given mode; skips the calling test with the provider's reason if CUDA is unavailable. */
    static CudaDevice openOrSkip(AllocMode mode) {
        assumeCuda();
        return new CudaDevice(0, mode);
    }

    /** Skips the calling test with the provider's reason if CUDA is unavailable. */
    static void assumeCuda() {
        String reason = PROVIDER.unavailableReason();
        assumeTrue(reason == null, () -> "CUDA unavailable: " + reason);
    }

    /** Whether a CUDA device can be opened here. */
    static boolean available() {
        return PROVIDER.unavailableReason() == null;
    }

    /** A new device buffer holding {@code values} as {@code dtype} (F32 or F64). */
    static DeviceBuffer upload(CudaDevice d, DType dtype, double[] values) {
        DeviceBuffer b = d.allocate((long) values.length * dtype.byteSize(), 256);
        MemorySegment host = dtype == DType.F32 ? MemorySegment.ofArray(toFloat(values))
                : MemorySegment.ofArray(values.clone());
        d.copyFromHost(host, 0, b, 0, host.byteSize());
        return b;
    }

    /** {@code n} elements of {@code b} from element {@code offset}, widened to double. */
    static double[] download(CudaDevice d, DType dtype, DeviceBuffer b, long offset, int n) {
        if (dtype == DType.F32) {
            float[] f = new float[n];
            d.copyToHost(b, offset * 4, MemorySegment.ofArray(f), 0, 4L * n);
            double[] r = new double[n];
            for (int i = 0; i < n; i++) {
                r[i] = f[i];
            }
            return r;
        }
        double[] r = new double[n];
        d.copyToHost(b, offset * 8, MemorySegment.ofArray(r), 0, 8L * n);
        return r;
    }

    /** Raw bytes of a buffer. */
    static byte[] bytes(CudaDevice d, DeviceBuffer b, long offset, int n) {
        byte[] r = new byte[n];
        d.copyToHost(b, offset, MemorySegment.ofArray(r), 0, n);
        return r;
    }

    /** Values rounded to the type ({@code (float)} for F32), so references see the same inputs as the GPU. */
    static double[] random(Random rnd, DType dtype, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x = (rnd.nextDouble() * 2 - 1) * scale;
            v[i] = dtype == DType.F32 ? (float) x : x;
        }
        return v;
    }

    static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    /** Reads element {@code i} of a host long array segment. */
    static long longAt(MemorySegment s, long i) {
        return s.getAtIndex(ValueLayout.JAVA_LONG, i);
    }
}
