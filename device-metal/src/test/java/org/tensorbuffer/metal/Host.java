package org.tensorbuffer.metal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;

/** Host-side helpers of the tests: upload and download arrays as F32 or F64. */
final class Host {
    private Host() {
    }

    /** A buffer holding {@code values} converted to {@code dtype} (F32 or F64), with {@code pad} elements before. */
    static DeviceBuffer upload(Device d, DType dtype, double[] values) {
        DeviceBuffer b = d.allocate((long) values.length * dtype.byteSize(), 64);
        write(d, dtype, b, 0, values);
        return b;
    }

    static void write(Device d, DType dtype, DeviceBuffer b, long byteOffset, double[] values) {
        MemorySegment host = Arena.ofAuto().allocate(Math.max(1, (long) values.length * dtype.byteSize()), 8);
        for (int i = 0; i < values.length; i++) {
            if (dtype == DType.F32) {
                host.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) values[i]);
            } else {
                host.setAtIndex(ValueLayout.JAVA_DOUBLE, i, values[i]);
            }
        }
        d.copyFromHost(host, 0, b, byteOffset, (long) values.length * dtype.byteSize());
    }

    static double[] read(Device d, DType dtype, DeviceBuffer b, long byteOffset, int n) {
        MemorySegment host = Arena.ofAuto().allocate(Math.max(1, (long) n * dtype.byteSize()), 8);
        d.copyToHost(b, byteOffset, host, 0, (long) n * dtype.byteSize());
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = dtype == DType.F32 ? host.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                    : host.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
        }
        return out;
    }

    /** Values rounded to the type (the inputs the device really sees). */
    static double[] round(DType dtype, double[] v) {
        double[] out = v.clone();
        if (dtype == DType.F32) {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) out[i];
            }
        }
        return out;
    }

    static double[] random(long seed, int n, double scale) {
        java.util.Random r = new java.util.Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (r.nextDouble() * 2 - 1) * scale;
        }
        return v;
    }
}
