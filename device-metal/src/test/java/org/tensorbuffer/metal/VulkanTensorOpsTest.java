package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;

/**
 * Every op of the Tensor API on the Vulkan device against the same op on the CPU device ({@code CpuDevice}), in
 * float32 and float64: the same inputs, results equal within a tolerance for the order of summation (float32) or
 * the last bits (float64).
 */
class VulkanTensorOpsTest {
    private TensorContext cpu;
    private TensorContext vk;
    private final Random rnd = new Random(11);

    @BeforeEach
    void open() {
        VulkanDevice d = VulkanTestDevice.get();
        cpu = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE);
        vk = TensorContext.create(d, AllocationStrategy.REACTIVE);
    }

    @AfterEach
    void close() {
        if (vk != null) {
            assertThat(vk.pool().stats().liveBytes()).as("every Vulkan tensor closed").isZero();
            vk.close();
            cpu.close();
        }
    }

    private double[] random(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextGaussian();
        }
        return a;
    }

    private Tensor make(TensorContext ctx, DType t, double[] v, Shape s) {
        if (t == DType.F32) {
            float[] f = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                f[i] = (float) v[i];
            }
            return ctx.fromArray(f, s);
        }
        return ctx.fromArray(v, s);
    }

    private static double tol(DType t) {
        return t == DType.F32 ? 2e-5 : 1e-12;
    }

    private void needType(DType t) {
        if (t == DType.F64) {
            assumeTrue(VulkanTestDevice.get().supportsFloat64(), "no shaderFloat64");
        }
    }

    /** Runs {@code op} on both devices over tensors made from {@code inputs} and compares the results. */
    private void same(DType t, Function<Tensor[], Tensor> op, double rtol, Object... inputs) {
        double[] want = run(cpu, t, op, inputs);
        double[] got = run(vk, t, op, inputs);
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) {
            assertThat(Math.abs(got[i] - want[i])).as("element %d: vulkan %s, cpu %s", i, got[i], want[i])
                    .isLessThanOrEqualTo(rtol * (1 + Math.abs(want[i])));
        }
    }

    private double[] run(TensorContext ctx, DType t, Function<Tensor[], Tensor> op, Object... inputs) {
        Tensor[] ts = new Tensor[inputs.length / 2];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = make(ctx, t, (double[]) inputs[2 * i], (Shape) inputs[2 * i + 1]);
        }
        try (Tensor r = op.apply(ts)) {
            if (r.dtype() == DType.F32) {
                float[] f = r.toFloatArray();
                double[] d = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    d[i] = f[i];
                }
                return d;
            }
            return r.toDoubleArray();
        } finally {
            for (Tensor x : ts) {
                x.close();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void matmulAndTransposes(DType t) {
        needType(t);
        Shape a = Shape.of(2, 13, 21);
        Shape b = Shape.of(2, 21, 9);
        same(t, x -> x[0].matmul(x[1]), tol(t), random(2 * 13 * 21), a, random(2 * 21 * 9), b);
        same(t, x -> x[0].matmul(x[1], true, true), tol(t), random(21 * 13), Shape.of(21, 13), random(9 * 21),
                Shape.of(9, 21));
        // matrix-vector, as in decode
        same(t, x -> x[0].matmul(x[1], false, true), tol(t), random(64), Shape.of(1, 64), random(48 * 64),
                Shape.of(48, 64));
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void elementwise(DType t) {
        needType(t);
        Shape s = Shape.of(7, 33);
        double[] a = random(231);
        double[] b = random(231);
        same(t, x -> x[0].add(x[1]), 0, a, s, b, s);
        same(t, x -> x[0].sub(x[1]), 0, a, s, b, s);
        same(t, x -> x[0].mul(x[1]), 0, a, s, b, s);
        same(t, x -> x[0].div(x[1]), 0, a, s, b, s);
        same(t, x -> x[0].scale(-1.75), 0, a, s);
        same(t, x -> x[0].silu(), tol(t), a, s);
        same(t, x -> {
            x[0].addInPlace(x[1]);
            return x[0].scale(1.0);
        }, 0, a, s, b, s);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void normsSoftmaxRopeAttention(DType t) {
        needType(t);
        same(t, x -> x[0].rmsnorm(x[1], 1e-5), tol(t), random(3 * 48), Shape.of(3, 48), random(48), Shape.of(48));
        same(t, x -> x[0].softmax(), tol(t), random(5 * 40), Shape.of(5, 40));
        same(t, x -> x[0].rope(37, 16), tol(t), random(64), Shape.of(64));
        int nHeads = 4;
        int nKv = 2;
        int hs = 8;
        same(t, x -> Tensor.attention(x[0], x[1], x[2], nHeads, nKv, hs, 9), tol(t), random(nHeads * hs),
                Shape.of(nHeads * hs), random(16 * nKv * hs), Shape.of(16, nKv * hs), random(16 * nKv * hs),
                Shape.of(16, nKv * hs));
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void layoutOpsAndReductions(DType t) {
        needType(t);
        double[] v = random(2 * 3 * 4);
        Shape s = Shape.of(2, 3, 4);
        same(t, x -> x[0].permute(2, 0, 1), 0, v, s);
        same(t, x -> x[0].gather(Shape.of(3, 4), new long[] {0, 1}), 0, v, s);
        same(t, x -> x[0].sumLastAxes(2), tol(t), v, s);
        same(t, x -> x[0].embedding(2, 0, 2), 0, random(3 * 5), Shape.of(3, 5));
        double[] am = random(1000);
        long want;
        long got;
        try (Tensor c = make(cpu, t, am, Shape.of(1000)); Tensor g = make(vk, t, am, Shape.of(1000))) {
            want = c.argmax();
            got = g.argmax();
        }
        assertThat(got).isEqualTo(want);
    }
}
