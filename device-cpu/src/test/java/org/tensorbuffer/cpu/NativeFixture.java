package org.tensorbuffer.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;

/** Test helper: CPU buffers filled from and read back into {@code double[]}, freed on {@link #close()}. */
final class NativeFixture implements AutoCloseable {
    final CpuDevice device;
    private final List<DeviceBuffer> buffers = new ArrayList<>();

    NativeFixture(CpuDevice device) {
        this.device = device;
    }

    /** Fills each array, in order, with float32-representable values drawn uniformly from [-1, 1). */
    static void fillUniform(SplittableRandom rnd, double[]... arrays) {
        for (double[] a : arrays) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
        }
    }

    /** A buffer holding {@code values} converted to {@code dtype} (F32 or F64), after {@code padElems} elements. */
    DeviceBuffer buffer(DType dtype, double[] values, int padElems) {
        int es = dtype.byteSize();
        DeviceBuffer b = device.allocate((long) (values.length + padElems) * es, 64);
        buffers.add(b);
        device.fill(b, 0, padElems, dtype, Double.NaN);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate((long) values.length * es);
            for (int i = 0; i < values.length; i++) {
                if (dtype == DType.F32) {
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) values[i]);
                } else {
                    host.setAtIndex(ValueLayout.JAVA_DOUBLE, i, values[i]);
                }
            }
            device.copyFromHost(host, 0, b, (long) padElems * es, host.byteSize());
        }
        return b;
    }

    DeviceBuffer buffer(DType dtype, double[] values) {
        return buffer(dtype, values, 0);
    }

    /** An uninitialised buffer of {@code n} elements, filled with NaN. */
    DeviceBuffer nans(DType dtype, long n) {
        DeviceBuffer b = device.allocate(n * dtype.byteSize(), 64);
        buffers.add(b);
        device.fill(b, 0, n, dtype, Double.NaN);
        return b;
    }

    /** {@code n} elements of {@code dtype} starting {@code offsetElems} elements into {@code b}, as doubles. */
    double[] read(DType dtype, DeviceBuffer b, long offsetElems, int n) {
        int es = dtype.byteSize();
        double[] out = new double[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Math.max(1, (long) n * es));
            device.copyToHost(b, offsetElems * es, host, 0, (long) n * es);
            for (int i = 0; i < n; i++) {
                out[i] = dtype == DType.F32 ? host.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                        : host.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            }
        }
        return out;
    }

    double[] read(DType dtype, DeviceBuffer b, int n) {
        return read(dtype, b, 0, n);
    }

    /** Deterministic pseudo-random values in [-1, 1) (a fixed LCG, so failures reproduce). */
    static double[] random(int n, long seed) {
        double[] v = new double[n];
        long s = seed * 6364136223846793005L + 1442695040888963407L;
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005L + 1442695040888963407L;
            v[i] = ((s >>> 11) * 0x1.0p-53) * 2 - 1;
        }
        return v;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : buffers) {
            device.free(b);
        }
        buffers.clear();
    }
}
