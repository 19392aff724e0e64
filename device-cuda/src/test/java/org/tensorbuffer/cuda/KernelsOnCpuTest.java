package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.cpu.CpuDevice;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Every kernel of {@code kernels.cu} on the CPU (issue 19, item 2), launched by the backend's own {@link CudaKernels}
 * (so with the grid and block sizes, argument bytes and kernel names it computes on a GPU) through the CUDA-on-CPU
 * shim ({@link CudaOnCpu}: one host thread per CUDA thread, real barriers), against the CPU device
 * ({@link CpuDevice}) on the same inputs, with the tolerances of {@link CudaVsCpuKernelsTest} (relative 3e-5 for F32,
 * 1e-11 for F64, times a per-op scale). Shapes: odd sizes around the block size, the llama2.c decode shapes
 * (stories15M: dim 288, hidden 768, 6 heads of 48, vocab 32000, seq 256; stories260K/GQA: 8 heads, 4 KV heads of 8),
 * einsum shapes (batched GEMMs, permutations) up to the largest permute of the einsum instances
 * (16 777 216 elements, the 4096 x 4096 outer product, which runs at the grid's {@value CudaKernels#MAX_BLOCKS}-block
 * cap). Prints the largest error of every kernel; the last test fails if a kernel of the shim was never launched.
 * Skipped with a message where g++ is not installed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KernelsOnCpuTest {
    private static final Map<String, Double> MAX_ERROR = new TreeMap<>();
    private static final Map<String, String> WORST_CASE = new TreeMap<>();
    private static CudaOnCpu shim;
    private static CudaOnCpuDevice gpu;
    private static CpuDevice cpu;
    private final Random rnd = new Random(19);

    @BeforeAll
    static void open() throws Exception {
        shim = CudaOnCpu.get();
        gpu = new CudaOnCpuDevice(shim);
        cpu = new CpuDevice();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            cpu.close();
        }
        StringBuilder sb = new StringBuilder("kernels.cu on the CPU vs CpuDevice, largest relative error per kernel:\n");
        MAX_ERROR.forEach((k, v) -> sb.append(String.format("  %-22s %10.3e   (%s)%n", k, v, WORST_CASE.get(k))));
        System.out.print(sb);
    }

    /** One operation, run once per device on buffers that hold the same inputs. */
    @FunctionalInterface
    private interface Op {
        void run(Device d, DeviceBuffer[] in, DeviceBuffer out);
    }

    private static double[][] both(DType t, int outLen, Op op, double[]... inputs) {
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
        DeviceBuffer b = d.allocate(Math.max(1, (long) v.length * t.byteSize()), 256);
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

    private static String kernel(String op, DType t) {
        return op + (t == DType.F32 ? "_f32" : "_f64");
    }

    /** Asserts the results agree and records the largest relative error under {@code kernel}. */
    private static void check(String kernel, String shape, DType t, double[][] r, double scale) {
        double tol = (t == DType.F32 ? 3e-5 : 1e-11) * scale;
        double worst = 0;
        for (int i = 0; i < r[1].length; i++) {
            double err = Math.abs(r[0][i] - r[1][i]) / Math.max(1, Math.abs(r[1][i]));
            if (Double.isNaN(r[0][i]) != Double.isNaN(r[1][i])) {
                err = Double.POSITIVE_INFINITY;
            } else if (Double.isNaN(r[0][i])) {
                err = 0;
            }
            assertThat(err).as("%s %s element %d: cuda-on-cpu %s, cpu %s", kernel, shape, i, r[0][i], r[1][i])
                    .isLessThanOrEqualTo(tol);
            worst = Math.max(worst, err);
        }
        record(kernel, shape, worst);
    }

    private static synchronized void record(String kernel, String shape, double err) {
        if (!MAX_ERROR.containsKey(kernel) || err > MAX_ERROR.get(kernel)) {
            MAX_ERROR.put(kernel, err);
            WORST_CASE.put(kernel, shape);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    @Order(1)
    void elementwise(DType t) {
        for (int n : new int[] {1, 255, 257, 288, 768, 12_345}) {
            double[] a = CudaTestSupport.random(rnd, t, n, 4);
            double[] b = CudaTestSupport.random(rnd, t, n, 4);
            for (BinaryOp op : BinaryOp.values()) {
                check(kernel("binary", t), op + " n=" + n, t, both(t, n, (d, in, out) ->
                        d.kernels().binary(op, t, in[0], 0, in[1], 0, out, 0, n), a, b), 1);
            }
            check(kernel("scale", t), "n=" + n, t, both(t, n, (d, in, out) ->
                    d.kernels().scale(t, in[0], 0, out, 0, n, 0.7), a), 1);
            check(kernel("silu", t), "n=" + n, t, both(t, n, (d, in, out) ->
                    d.kernels().silu(t, in[0], 0, out, 0, n), a), 1);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    @Order(2)
    void rowOps(DType t) {
        int[][] shapes = {{1, 288}, {5, 288}, {3, 1}, {2, 1000}, {7, 64}, {1, 768}};
        for (int[] s : shapes) {
            int rows = s[0];
            int cols = s[1];
            double[] x = CudaTestSupport.random(rnd, t, rows * cols, 3);
            double[] w = CudaTestSupport.random(rnd, t, cols, 1);
            String shape = rows + "x" + cols;
            check(kernel("rmsnorm", t), shape, t, both(t, rows * cols, (d, in, out) -> d.kernels().rmsnorm(t, in[0],
                    0, in[1], 0, out, 0, rows, cols, 1e-5), x, w), 1);
            int valid = Math.max(1, cols * 2 / 3 + 1);
            check(kernel("softmax", t), shape + " valid " + valid, t, both(t, rows * cols, (d, in, out) ->
                    d.kernels().softmax(t, in[0], 0, out, 0, rows, cols, valid), x), 1);
            check(kernel("reduce_sum_" + (cols <= 64 ? "rows" : "block"), t), shape, t, both(t, rows,
                    (d, in, out) -> d.kernels().reduceSum(t, in[0], 0, out, 0, rows, cols), x), 10);
        }
        // the vocabulary softmax of stories15M (one row of 32000 logits)
        double[] logits = CudaTestSupport.random(rnd, t, 32_000, 10);
        check(kernel("softmax", t), "1x32000", t, both(t, 32_000, (d, in, out) -> d.kernels().softmax(t, in[0], 0,
                out, 0, 1, 32_000, 32_000), logits), 1);
        // many short rows: the thread-per-row reduction over several blocks; empty rows give zeros
        double[] many = CudaTestSupport.random(rnd, t, 1000 * 3, 1);
        check(kernel("reduce_sum_rows", t), "1000x3", t, both(t, 1000, (d, in, out) -> d.kernels().reduceSum(t,
                in[0], 0, out, 0, 1000, 3), many), 10);
        check("fill_b" + t.byteSize(), "reduceSum 9x0", t, both(t, 9, (d, in, out) ->
                d.kernels().reduceSum(t, in[0], 0, out, 0, 9, 0), many), 1);
        int[][] ropes = {{288, 48, 17}, {64, 8, 255}, {2, 2, 0}, {768, 64, 1000}};
        for (int[] r : ropes) {
            double[] x = CudaTestSupport.random(rnd, t, r[0], 1);
            check(kernel("rope", t), "dim " + r[0] + " head " + r[1] + " pos " + r[2], t, both(t, r[0],
                    (d, in, out) -> d.kernels().rope(t, in[0], 0, out, 0, r[0], r[1], r[2]), x), 1);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    @Order(3)
    void attention(DType t) {
        // {nHeads, nKvHeads, headSize, seq, pos}: stories15M at the first and last position, GQA (stories260K),
        // more positions than threads in a block
        int[][] shapes = {{6, 6, 48, 256, 0}, {6, 6, 48, 256, 255}, {8, 4, 8, 512, 100}, {3, 1, 5, 300, 299}};
        for (int[] s : shapes) {
            int nHeads = s[0];
            int nKv = s[1];
            int hs = s[2];
            int seq = s[3];
            int pos = s[4];
            double[] q = CudaTestSupport.random(rnd, t, nHeads * hs, 1);
            double[] k = CudaTestSupport.random(rnd, t, seq * nKv * hs, 1);
            double[] v = CudaTestSupport.random(rnd, t, seq * nKv * hs, 1);
            check(kernel("attention", t), nHeads + "/" + nKv + " heads of " + hs + " pos " + pos, t,
                    both(t, nHeads * hs, (d, in, out) -> {
                        DeviceBuffer att = d.allocate((long) nHeads * seq * t.byteSize(), 256);
                        d.kernels().attention(t, in[0], 0, in[1], 0, in[2], 0, att, 0, seq, out, 0, nHeads, nKv, hs,
                                pos);
                        d.synchronize();
                        d.free(att);
                    }, q, k, v), 1);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    @Order(4)
    void argmax(DType t) {
        for (int n : new int[] {1, 257, 32_000, 300_000}) {
            double[] x = CudaTestSupport.random(rnd, t, n, 1);
            if (n > 1) {
                x[n - 1] = 2; // ties: the smaller index wins
                x[n / 2] = 2;
                x[n / 3] = Double.NaN; // NaN loses to any number
            }
            DeviceBuffer gx = put(gpu, t, x);
            DeviceBuffer cx = put(cpu, t, x);
            long g = gpu.kernels().argmax(t, gx, 0, n);
            long c = cpu.kernels().argmax(t, cx, 0, n);
            gpu.free(gx);
            cpu.free(cx);
            assertThat(g).as("argmax of %d elements", n).isEqualTo(c);
            record(kernel("argmax_partial", t), "n=" + n + " (index equal)", 0);
            record(kernel("argmax_final", t), "n=" + n + " (index equal)", 0);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    @Order(5)
    void gemmTiled(DType t) {
        // {m, n, k, batch}: odd tiles, a decode matvec (x W^T: 1 x 768 from 288), einsum's batched 64^3, 1x1x1
        int[][] shapes = {{33, 65, 17, 3}, {1, 768, 288, 1}, {64, 64, 64, 4}, {1, 1, 1, 1}, {17, 5, 40, 2}};
        for (int[] s : shapes) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            int batch = s[3];
            double[] a = CudaTestSupport.random(rnd, t, batch * m * k, 1);
            double[] b = CudaTestSupport.random(rnd, t, batch * k * n, 1);
            double[] c0 = CudaTestSupport.random(rnd, t, batch * m * n, 1);
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0;
                boolean tb = (tr & 2) != 0;
                double beta = tr == 3 ? 0.25 : 0;
                String shape = (ta ? "T" : "N") + (tb ? "T" : "N") + " " + m + "x" + n + "x" + k + " batch " + batch;
                check(kernel("gemm", t), shape, t, both(t, batch * m * n, (d, in, out) -> {
                    if (beta != 0) {
                        d.copy(in[2], 0, out, 0, (long) batch * m * n * t.byteSize());
                    }
                    d.kernels().gemmStridedBatched(t, ta, tb, m, n, k, 0.5, in[0], 0, ta ? m : k, (long) m * k,
                            in[1], 0, tb ? k : n, (long) k * n, beta, out, 0, n, (long) m * n, batch);
                }, a, b, c0), k);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "F32", "F64"})
    @Order(6)
    void fills(DType t) {
        for (int n : new int[] {1, 300, 70_001}) {
            for (double v : new double[] {0, -1.5, 3.25}) {
                byte[][] r = new byte[2][];
                Device[] ds = {gpu, cpu};
                for (int i = 0; i < 2; i++) {
                    DeviceBuffer b = ds[i].allocate((long) n * t.byteSize(), 256);
                    ds[i].fill(b, 0, n, t, v);
                    r[i] = new byte[n * t.byteSize()];
                    ds[i].copyToHost(b, 0, MemorySegment.ofArray(r[i]), 0, r[i].length);
                    ds[i].free(b);
                }
                assertThat(r[0]).as("fill %s n=%d value %s", t, n, v).isEqualTo(r[1]);
            }
        }
        record("fill_b" + t.byteSize(), t + " (bits equal)", 0);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "F32", "F64"})
    @Order(7)
    void permutes(DType t) {
        // {shape..., permutation}: einsum-style transposes of odd sizes, rank 6, a broadcast (stride 0)
        record(t, new long[] {17, 3, 5}, new long[] {1, 85, 17}, "3-D transpose");
        record(t, new long[] {2, 3, 4, 5, 6, 7}, new long[] {1, 2, 6, 24, 120, 720}, "rank-6 reversal");
        record(t, new long[] {33, 257}, new long[] {1, 33}, "33x257 transpose");
        record(t, new long[] {5, 7, 9}, new long[] {0, 9, 1}, "broadcast of a 7x9 over 5");
    }

    private void record(DType t, long[] shape, long[] strides, String what) {
        long total = 1;
        long extent = 1;
        for (int d = 0; d < shape.length; d++) {
            total *= shape[d];
            extent += (shape[d] - 1) * strides[d];
        }
        int es = t.byteSize();
        byte[] src = new byte[(int) (extent * es)];
        rnd.nextBytes(src);
        byte[][] r = new byte[2][];
        Device[] ds = {gpu, cpu};
        for (int i = 0; i < 2; i++) {
            DeviceBuffer s = ds[i].allocate(src.length, 256);
            ds[i].copyFromHost(MemorySegment.ofArray(src), 0, s, 0, src.length);
            DeviceBuffer d = ds[i].allocate(total * es, 256);
            ds[i].kernels().stridedCopy(t, s, 0, shape, strides, d, 0);
            r[i] = new byte[(int) (total * es)];
            ds[i].copyToHost(d, 0, MemorySegment.ofArray(r[i]), 0, r[i].length);
            ds[i].free(s);
            ds[i].free(d);
        }
        assertThat(r[0]).as("stridedCopy %s %s", t, what).isEqualTo(r[1]);
        record("strided_copy32_b" + es, what + " (bits equal)", 0);
    }

    /**
     * The largest permute of the einsum instances: the 4096 x 4096 float64 outer product (bin_outer_product_4096)
     * transposed, 16 777 216 elements; the launch hits the {@value CudaKernels#MAX_BLOCKS}-block cap, so every
     * thread's grid-stride loop runs more than once.
     */
    @Test
    @Order(8)
    void largestEinsumPermute() {
        int n = 4096;
        DType t = DType.F64;
        long total = (long) n * n;
        Device[] ds = {gpu, cpu};
        double[][] r = new double[2][];
        double[] src = new double[n * n];
        for (int i = 0; i < src.length; i++) {
            src[i] = i;
        }
        for (int i = 0; i < 2; i++) {
            DeviceBuffer s = put(ds[i], t, src);
            DeviceBuffer d = ds[i].allocate(total * 8, 256);
            ds[i].kernels().stridedCopy(t, s, 0, new long[] {n, n}, new long[] {1, n}, d, 0);
            r[i] = get(ds[i], t, d, n * n);
            ds[i].free(s);
            ds[i].free(d);
        }
        assertThat(r[0]).isEqualTo(r[1]);
        assertThat(r[0][1]).isEqualTo(n); // element (0, 1) of the transpose is element (1, 0) of the source
        record("strided_copy32_b8", "4096x4096 transpose (bits equal)", 0);
    }

    /**
     * The kernels the Kernels API reaches only for data it cannot hold here: 1-byte elements (no 1-byte DType) and
     * the 64-bit-index copies (used when an offset passes 2^31 - 1). Launched directly, with the arguments
     * CudaKernels builds, on small data, against the CPU device's copy of the same bytes as 2-byte... elements.
     */
    @Test
    @Order(9)
    void byteKernelsAndLongIndexCopies() {
        long[] shape = {6, 5, 7};
        long[] strides = {1, 42, 6};
        int total = 6 * 5 * 7;
        for (int es : new int[] {1, 2, 4, 8}) {
            byte[] src = new byte[total * es];
            rnd.nextBytes(src);
            byte[] expected = new byte[total * es];
            int o = 0;
            for (int i = 0; i < shape[0]; i++) {
                for (int j = 0; j < shape[1]; j++) {
                    for (int k = 0; k < shape[2]; k++) {
                        long from = (i * strides[0] + j * strides[1] + k * strides[2]) * es;
                        System.arraycopy(src, (int) from, expected, o, es);
                        o += es;
                    }
                }
            }
            for (String kernel : List.of("strided_copy_b" + es, "strided_copy32_b" + es)) {
                DeviceBuffer s = gpu.allocate(src.length, 256);
                gpu.copyFromHost(MemorySegment.ofArray(src), 0, s, 0, src.length);
                DeviceBuffer d = gpu.allocate(expected.length, 256);
                gpu.module().launch(kernel, 1, CudaKernels.THREADS, 0, new KernelArgs().ptr(s.address())
                        .ptr(d.address()).i64(total).i32(3).dims8(shape).dims8(strides));
                byte[] got = new byte[expected.length];
                gpu.copyToHost(d, 0, MemorySegment.ofArray(got), 0, got.length);
                gpu.free(s);
                gpu.free(d);
                assertThat(got).as(kernel).isEqualTo(expected);
                record(kernel, "6x5x7 permute, direct launch (bits equal)", 0);
            }
        }
        DeviceBuffer b = gpu.allocate(1001, 256);
        gpu.module().launch("fill_b1", 1, CudaKernels.THREADS, 0, new KernelArgs().ptr(b.address()).i64(1001)
                .bits(1, 0xA5));
        byte[] got = new byte[1001];
        gpu.copyToHost(b, 0, MemorySegment.ofArray(got), 0, got.length);
        gpu.free(b);
        for (byte x : got) {
            assertThat(x).isEqualTo((byte) 0xA5);
        }
        record("fill_b1", "1001 bytes, direct launch (bits equal)", 0);
    }

    /** The shim's warp shuffles and atomics (for kernels that will use them) do what CUDA's do. */
    @Test
    @Order(10)
    void shimWarpIntrinsicsAndAtomics() {
        assertThat(shim.selfTest()).as("tb_selftest failure code").isZero();
    }

    /** Every entry point of the PTX has a CPU registration, and every one was launched by the tests above. */
    @Test
    @Order(100)
    void everyKernelRan() {
        String ptx = new String(PtxModule.ptx(), java.nio.charset.StandardCharsets.US_ASCII);
        TreeSet<String> entries = new TreeSet<>();
        Matcher m = Pattern.compile("\\.visible \\.entry (\\w+)\\(").matcher(ptx);
        while (m.find()) {
            entries.add(m.group(1));
        }
        assertThat(new TreeSet<>(shim.entries())).as("kernels registered in kernels_on_cpu.cpp vs PTX entries")
                .isEqualTo(entries);
        List<String> never = new ArrayList<>();
        for (String e : entries) {
            if (shim.launches(e) == 0) {
                never.add(e);
            }
        }
        assertThat(never).as("kernels never launched on the CPU").isEmpty();
        assertThat(MAX_ERROR.keySet()).as("kernels without a recorded comparison").containsAll(entries);
        // the barrier-free fast path applies where it should and nowhere else
        assertThat(shim.independent("strided_copy32_b8")).isTrue();
        assertThat(shim.independent("binary_f32")).isTrue();
        assertThat(shim.independent("rmsnorm_f32")).isFalse();
        assertThat(shim.independent("gemm_f64")).isFalse();
    }
}
