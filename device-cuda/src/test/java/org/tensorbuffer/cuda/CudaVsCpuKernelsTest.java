package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.cpu.CpuDevice;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * Every kernel on the GPU against the same kernel of the CPU device ({@link CpuDevice}) on the same random inputs,
 * F32 and F64. The CPU device is itself tested against numpy/run.c references in device-cpu. Skipped with the
 * provider's reason where CUDA is unavailable.
 */
class CudaVsCpuKernelsTest {
    private static CudaDevice gpu;
    private static CpuDevice cpu;
    private final Random rnd = new Random(2026);

    @BeforeAll
    static void open() {
        if (CudaTestSupport.available()) {
            gpu = new CudaDevice(0, AllocMode.SYNC);
            cpu = new CpuDevice();
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            cpu.close();
        }
    }

    @BeforeEach
    void requireCuda() {
        CudaTestSupport.assumeCuda();
    }

    /** One operation, run once per device on buffers that hold the same inputs. */
    @FunctionalInterface
    private interface Op {
        void run(Device d, DeviceBuffer[] in, DeviceBuffer out);
    }

    /** Runs {@code op} on both devices and returns {gpu result, cpu result} of {@code outLen} elements. */
    private double[][] both(DType t, int outLen, Op op, double[]... inputs) {
        double[][] r = new double[2][];
        Device[] devices = {gpu, cpu};
        for (int k = 0; k < 2; k++) {
            Device d = devices[k];
            DeviceBuffer[] in = new DeviceBuffer[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                in[i] = put(d, t, inputs[i]);
            }
            DeviceBuffer out = d.allocate(Math.max(1, (long) outLen * t.byteSize()), 256);
            d.fill(out, 0, outLen, t, Double.NaN);
            op.run(d, in, out);
            r[k] = get(d, t, out, outLen);
            for (DeviceBuffer b : in) {
                d.free(b);
            }
            d.free(out);
        }
        return r;
    }

    private static DeviceBuffer put(Device d, DType t, double[] v) {
        DeviceBuffer b = d.allocate((long) v.length * t.byteSize(), 256);
        MemorySegment host = t == DType.F32 ? MemorySegment.ofArray(CudaTestSupport.toFloat(v))
                : MemorySegment.ofArray(v.clone());
        d.copyFromHost(host, 0, b, 0, host.byteSize());
        return b;
    }

    private static double[] get(Device d, DType t, DeviceBuffer b, int n) {
        double[] r = new double[n];
        if (t == DType.F32) {
            float[] f = new float[n];
            d.copyToHost(b, 0, MemorySegment.ofArray(f), 0, 4L * n);
            for (int i = 0; i < n; i++) {
                r[i] = f[i];
            }
        } else {
            d.copyToHost(b, 0, MemorySegment.ofArray(r), 0, 8L * n);
        }
        return r;
    }

    private static void assertSame(DType t, double[][] r, double scale) {
        double tol = (t == DType.F32 ? 3e-5 : 1e-11) * scale;
        for (int i = 0; i < r[1].length; i++) {
            assertThat(Math.abs(r[0][i] - r[1][i])).as("element %d: gpu %s, cpu %s", i, r[0][i], r[1][i])
                    .isLessThanOrEqualTo(tol * Math.max(1, Math.abs(r[1][i])));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void elementwise(DType t) {
        int n = 12_345;
        double[] a = CudaTestSupport.random(rnd, t, n, 4);
        double[] b = CudaTestSupport.random(rnd, t, n, 4);
        for (BinaryOp op : BinaryOp.values()) {
            assertSame(t, both(t, n, (d, in, out) -> d.kernels().binary(op, t, in[0], 0, in[1], 0, out, 0, n), a, b),
                    1);
        }
        assertSame(t, both(t, n, (d, in, out) -> d.kernels().scale(t, in[0], 0, out, 0, n, 0.7), a), 1);
        assertSame(t, both(t, n, (d, in, out) -> d.kernels().silu(t, in[0], 0, out, 0, n), a), 1);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void rowOps(DType t) {
        int rows = 5;
        int cols = 288;
        double[] x = CudaTestSupport.random(rnd, t, rows * cols, 3);
        double[] w = CudaTestSupport.random(rnd, t, cols, 1);
        assertSame(t, both(t, rows * cols, (d, in, out) -> d.kernels().rmsnorm(t, in[0], 0, in[1], 0, out, 0, rows,
                cols, 1e-5), x, w), 1);
        assertSame(t, both(t, rows * cols, (d, in, out) -> d.kernels().softmax(t, in[0], 0, out, 0, rows, cols,
                200), x), 1);
        assertSame(t, both(t, cols, (d, in, out) -> d.kernels().rope(t, in[0], 0, out, 0, cols, 48, 17), x), 1);
        assertSame(t, both(t, rows, (d, in, out) -> d.kernels().reduceSum(t, in[0], 0, out, 0, rows, cols), x), 10);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void attentionAndArgmax(DType t) {
        int nHeads = 6;
        int nKv = 3;
        int hs = 8;
        int seq = 64;
        int pos = 40;
        double[] q = CudaTestSupport.random(rnd, t, nHeads * hs, 1);
        double[] k = CudaTestSupport.random(rnd, t, seq * nKv * hs, 1);
        double[] v = CudaTestSupport.random(rnd, t, seq * nKv * hs, 1);
        assertSame(t, both(t, nHeads * hs, (d, in, out) -> {
            DeviceBuffer att = d.allocate((long) nHeads * seq * t.byteSize(), 256);
            d.kernels().attention(t, in[0], 0, in[1], 0, in[2], 0, att, 0, seq, out, 0, nHeads, nKv, hs, pos);
            d.synchronize();
            d.free(att);
        }, q, k, v), 1);
        double[] x = CudaTestSupport.random(rnd, t, 100_000, 1);
        DeviceBuffer gx = put(gpu, t, x);
        DeviceBuffer cx = put(cpu, t, x);
        assertThat(gpu.kernels().argmax(t, gx, 0, x.length)).isEqualTo(cpu.kernels().argmax(t, cx, 0, x.length));
        gpu.free(gx);
        cpu.free(cx);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmAndPermute(DType t) {
        int m = 33;
        int n = 65;
        int k = 17;
        int batch = 3;
        double[] a = CudaTestSupport.random(rnd, t, batch * m * k, 1);
        double[] b = CudaTestSupport.random(rnd, t, batch * k * n, 1);
        assertSame(t, both(t, m * n, (d, in, out) -> d.kernels().gemm(t, false, true, m, n, k, 1, in[0], 0, k, in[1],
                0, k, 0, out, 0, n), a, b), k);
        assertSame(t, both(t, batch * m * n, (d, in, out) -> d.kernels().gemmStridedBatched(t, true, false, m, n, k,
                0.5, in[0], 0, m, (long) m * k, in[1], 0, n, (long) k * n, 0, out, 0, n, (long) m * n, batch), a, b),
                k);
        long[] shape = {k, batch, m};
        long[] strides = {1, (long) m * k, k};
        assertSame(t, both(t, batch * m * k, (d, in, out) -> d.kernels().stridedCopy(t, in[0], 0, shape, strides, out,
                0), a), 0);
    }
}
