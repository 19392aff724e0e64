package org.tensorbuffer.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.device.KernelReference.Ref;
import org.opentest4j.TestAbortedException;
import org.tensorbuffer.types.DType;

/**
 * The one kernel-conformance suite every backend runs: each {@link Kernels} operation (GEMM and GEMV with every
 * transpose, leading dimensions and offsets, strided-batched GEMM with broadcast; binary ops, scale, SiLU; RMSNorm,
 * softmax, RoPE, attention and their row-batched forms; argmax, row sums; strided copies of every type) and the
 * {@link Device} memory calls (copies, fill of every type), F32 and F64, against the plain double loops of
 * {@link KernelReference} and, for a few fixed inputs, against values PyTorch computed
 * ({@code scripts/kernel_conformance_pins.py}). A backend subclasses it in its tests and returns its device.
 *
 * <p>Tolerance policy (the one place it is written): inputs are drawn and rounded to the element type, so the
 * reference sees what the device sees; the error of every element is measured relative to the magnitude its rounding
 * error scales with ({@link KernelReference.Ref#magnitude()}: the sum of absolute terms of a sum, {@code |value|} of
 * a product), and must be at most {@link #tolerance(DType)} times a factor for error growth: {@code sqrt(terms)} for
 * sums, {@code 1 + pos / 8} for RoPE (the angle is rounded in the element type, as llama2.c does). Add, subtract,
 * multiply and scale by an exact power-of-two fraction must be exact; divide within 3 ulp. Outputs are filled with NaN
 * first so that an element a kernel does not write shows, and elements outside the output range must keep their
 * values. The largest error of every operation, as a fraction of its tolerance, is printed after the suite.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class KernelConformanceTest {
    /** Relative tolerance per type: 64 units in the last place of 1.0 ({@code 7.6e-6} and {@code 1.4e-14}). */
    static double tolerance(DType t) {
        return 64 * (t == DType.F32 ? Math.ulp(1.0f) : Math.ulp(1.0));
    }

    private final Map<String, double[]> worst = new TreeMap<>();
    private final Map<String, String> worstCase = new TreeMap<>();
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private Device device;
    private Kernels k;
    private String unavailable;

    /**
     * The device under test, opened once for the class; skip with an assumption (naming the reason) where the
     * backend is unavailable.
     */
    protected abstract Device openDevice();

    /** Releases the device after the suite; closes it unless overridden (for a device shared by other tests). */
    protected void closeDevice(Device d) {
        d.close();
    }

    /** Whether the device runs float64 kernels (F64 cases are skipped, with that reason, where not). */
    protected boolean supportsFloat64(Device d) {
        return true;
    }

    /** The device under test, for subclasses' own tests. */
    protected final Device device() {
        return device;
    }

    @BeforeAll
    final void openConformanceDevice() {
        try {
            device = openDevice();
            k = device.kernels();
        } catch (TestAbortedException e) {
            // each test is skipped with the reason below, so that reports count the tests and show why
            unavailable = String.valueOf(e.getMessage()).replaceFirst("^Assumption failed: ", "");
        }
    }

    @BeforeEach
    final void requireDevice() {
        assumeTrue(device != null, () -> unavailable);
    }

    @AfterEach
    final void freeBuffers() {
        if (device != null) {
            device.synchronize();
            for (DeviceBuffer b : buffers) {
                device.free(b);
            }
        }
        buffers.clear();
    }

    @AfterAll
    final void closeConformanceDevice() {
        if (device == null) {
            return;
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "kernel conformance on %s: largest error per operation as a fraction of its tolerance%n", device.id()));
        worst.forEach((op, w) -> sb.append(String.format(Locale.ROOT, "  %-26s %8.4f  (%.2e; %s)%n", op, w[0], w[1],
                worstCase.get(op))));
        System.out.print(sb);
        closeDevice(device);
    }

    private DType floats(DType t) {
        if (t == DType.F64) {
            assumeTrue(supportsFloat64(device), () -> device.id() + " has no float64 kernels");
        }
        return t;
    }

    // ------------------------------------------------------------------ host <-> device

    /** {@code n} values uniform in {@code [-scale, scale)}, rounded to {@code t}. */
    static double[] random(Random rnd, DType t, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = round(t, (rnd.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    static double round(DType t, double v) {
        return t == DType.F32 ? (float) v : v;
    }

    private DeviceBuffer upload(DType t, double[] v) {
        DeviceBuffer b = device.allocate(Math.max(1, (long) v.length * t.byteSize()), 64);
        buffers.add(b);
        if (v.length > 0) {
            MemorySegment host = Arena.ofAuto().allocate((long) v.length * t.byteSize(), 8);
            for (int i = 0; i < v.length; i++) {
                if (t == DType.F32) {
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v[i]);
                } else {
                    host.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v[i]);
                }
            }
            device.copyFromHost(host, 0, b, 0, host.byteSize());
        }
        return b;
    }

    private DeviceBuffer nans(DType t, int n) {
        double[] v = new double[n];
        Arrays.fill(v, Double.NaN);
        return upload(t, v);
    }

    private double[] download(DType t, DeviceBuffer b, long elemOffset, int n) {
        double[] out = new double[n];
        if (n == 0) {
            return out;
        }
        MemorySegment host = Arena.ofAuto().allocate((long) n * t.byteSize(), 8);
        device.copyToHost(b, elemOffset * t.byteSize(), host, 0, host.byteSize());
        for (int i = 0; i < n; i++) {
            out[i] = t == DType.F32 ? host.getAtIndex(ValueLayout.JAVA_FLOAT, i)
                    : host.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
        }
        return out;
    }

    private DeviceBuffer uploadBytes(byte[] v) {
        DeviceBuffer b = device.allocate(Math.max(1, v.length), 64);
        buffers.add(b);
        if (v.length > 0) {
            device.copyFromHost(MemorySegment.ofArray(v), 0, b, 0, v.length);
        }
        return b;
    }

    private byte[] downloadBytes(DeviceBuffer b, long offset, int n) {
        byte[] out = new byte[n];
        if (n > 0) {
            device.copyToHost(b, offset, MemorySegment.ofArray(out), 0, n);
        }
        return out;
    }

    // ------------------------------------------------------------------ the check

    /**
     * Asserts {@code got} matches {@code want} within {@code tolerance(t) * factor} relative to the reference's
     * magnitudes (NaN where the reference has NaN), and records the worst ratio under {@code op}.
     */
    private void assertClose(String op, DType t, String shape, Ref want, double[] got, double factor) {
        assertThat(got).as("%s %s %s: length", op, t, shape).hasSameSizeAs(want.value());
        double limit = tolerance(t) * factor;
        double worstRatio = 0;
        double worstErr = 0;
        for (int i = 0; i < got.length; i++) {
            double e = want.value()[i];
            if (Double.isNaN(e)) {
                assertThat(got[i]).as("%s %s %s element %d (must stay NaN)", op, t, shape, i).isNaN();
                continue;
            }
            double err = Math.abs(got[i] - e) / Math.max(want.magnitude()[i], 1e-30);
            if (Double.isNaN(got[i])) {
                err = Double.POSITIVE_INFINITY;
            }
            assertThat(err).as("%s %s %s element %d: got %s, reference %s (relative error vs tolerance %s)", op, t,
                    shape, i, got[i], e, limit).isLessThanOrEqualTo(limit);
            if (err / limit > worstRatio) {
                worstRatio = err / limit;
                worstErr = err;
            }
        }
        record(op + " " + t.displayName(), shape, worstRatio, worstErr);
    }

    private void record(String op, String shape, double ratio, double err) {
        double[] w = worst.get(op);
        if (w == null || ratio > w[0]) {
            worst.put(op, new double[] {ratio, err});
            worstCase.put(op, shape);
        }
    }

    private static Ref exact(double[] v) {
        return new Ref(v, new double[v.length]);
    }

    // ------------------------------------------------------------------ GEMM / GEMV

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmEveryTransposeLeadingDimensionAndOffset(DType t) {
        floats(t);
        Random rnd = new Random(17);
        // {m, n, k}: odd tiles, a decode GEMV (x W^T: 1 x 768 from 288), a column GEMV (n = 1), square, k = 0, 1x1x1
        int[][] shapes = {{37, 53, 29}, {1, 768, 288}, {40, 1, 65}, {64, 64, 64}, {3, 5, 0}, {1, 1, 1}};
        for (int[] s : shapes) {
            int m = s[0];
            int n = s[1];
            int kk = s[2];
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0;
                boolean tb = (tr & 2) != 0;
                int lda = (ta ? m : kk) + 3;
                int ldb = (tb ? kk : n) + 1;
                int ldc = n + 2;
                int aOff = 5;
                int bOff = 2;
                int cOff = 7;
                double[] a = random(rnd, t, aOff + (ta ? kk : m) * lda + 1, 1);
                double[] b = random(rnd, t, bOff + (tb ? n : kk) * ldb + 1, 1);
                double[] c = random(rnd, t, cOff + m * ldc + 1, 1);
                for (double beta : new double[] {0, -0.5}) {
                    double[] cIn = c.clone();
                    if (beta == 0) {
                        Arrays.fill(cIn, Double.NaN); // must not be read, and must stay NaN outside the block
                    }
                    DeviceBuffer da = upload(t, a);
                    DeviceBuffer db = upload(t, b);
                    DeviceBuffer dc = upload(t, cIn);
                    int es = t.byteSize();
                    k.gemm(t, ta, tb, m, n, kk, 1.5, da, (long) aOff * es, lda, db, (long) bOff * es, ldb, beta, dc,
                            (long) cOff * es, ldc);
                    Ref want = KernelReference.gemm(ta, tb, m, n, kk, 1.5, a, aOff, lda, b, bOff, ldb, beta, cIn,
                            cOff, ldc);
                    String shape = (ta ? "T" : "N") + (tb ? "T" : "N") + " " + m + "x" + n + "x" + kk + " beta " + beta;
                    assertClose(m == 1 || n == 1 ? "gemv" : "gemm", t, shape, want, download(t, dc, 0, cIn.length),
                            Math.sqrt(kk + 1));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmStridedBatchedWithBroadcastOperands(DType t) {
        floats(t);
        Random rnd = new Random(18);
        // {m, n, k, batch, strideA is 0, strideB is 0}: einsum-style batches, one B for all, one A for all
        int[][] cases = {{9, 20, 11, 3, 0, 1}, {64, 64, 64, 4, 0, 0}, {17, 5, 40, 2, 1, 0}, {33, 65, 17, 3, 0, 0}};
        for (int[] cs : cases) {
            int m = cs[0];
            int n = cs[1];
            int kk = cs[2];
            int batch = cs[3];
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0;
                boolean tb = (tr & 2) != 0;
                long strideA = cs[4] == 1 ? 0 : (long) m * kk;
                long strideB = cs[5] == 1 ? 0 : (long) kk * n;
                double[] a = random(rnd, t, (int) (strideA == 0 ? m * kk : batch * strideA), 1);
                double[] b = random(rnd, t, (int) (strideB == 0 ? kk * n : batch * strideB), 1);
                double[] c = random(rnd, t, batch * m * n, 1);
                double beta = tr == 3 ? 0.25 : 0;
                DeviceBuffer da = upload(t, a);
                DeviceBuffer db = upload(t, b);
                DeviceBuffer dc = upload(t, c);
                k.gemmStridedBatched(t, ta, tb, m, n, kk, 0.5, da, 0, ta ? m : kk, strideA, db, 0, tb ? kk : n,
                        strideB, beta, dc, 0, n, (long) m * n, batch);
                double[] want = new double[c.length];
                double[] mag = new double[c.length];
                for (int z = 0; z < batch; z++) {
                    Ref part = KernelReference.gemm(ta, tb, m, n, kk, 0.5, a, (int) (z * strideA), ta ? m : kk, b,
                            (int) (z * strideB), tb ? kk : n, beta, c, z * m * n, n);
                    System.arraycopy(part.value(), z * m * n, want, z * m * n, m * n);
                    System.arraycopy(part.magnitude(), z * m * n, mag, z * m * n, m * n);
                }
                String shape = (ta ? "T" : "N") + (tb ? "T" : "N") + " " + m + "x" + n + "x" + kk + " batch " + batch
                        + " strides " + strideA + "/" + strideB;
                assertClose("gemmStridedBatched", t, shape, new Ref(want, mag), download(t, dc, 0, c.length),
                        Math.sqrt(kk + 1));
            }
        }
    }

    // ------------------------------------------------------------------ elementwise

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void binaryOpsExactWithOffsetsAndAliasing(DType t) {
        floats(t);
        Random rnd = new Random(19);
        int es = t.byteSize();
        for (int n : new int[] {0, 1, 3, 37, 255, 257, 12_345}) {
            double[] a = random(rnd, t, n, 10);
            double[] b = random(rnd, t, n, 10);
            if (n > 1) {
                b[1] = 0; // division by zero: +-inf as IEEE says
            }
            for (BinaryOp op : BinaryOp.values()) {
                double[] want = new double[n + 3];
                double[] mag = new double[n + 3];
                Arrays.fill(want, Double.NaN);
                for (int i = 0; i < n; i++) {
                    double r = switch (op) {
                        case ADD -> a[i] + b[i];
                        case SUB -> a[i] - b[i];
                        case MUL -> a[i] * b[i];
                        case DIV -> a[i] / b[i];
                    };
                    want[i + 2] = round(t, r); // +, -, *, / in double then rounded: the correctly rounded result
                    mag[i + 2] = op == BinaryOp.DIV ? Math.ulp(round(t, r)) / tolerance(t) * 3 : 0;
                }
                double[] padded = new double[n + 1];
                System.arraycopy(a, 0, padded, 1, n);
                DeviceBuffer da = upload(t, padded);
                DeviceBuffer db = upload(t, b);
                DeviceBuffer out = nans(t, n + 3);
                k.binary(op, t, da, es, db, 0, out, 2L * es, n);
                double[] got = download(t, out, 0, n + 3);
                double[] written = Arrays.copyOfRange(got, 2, n + 2);
                for (int i = 0; i < n; i++) {
                    if (Double.isInfinite(want[i + 2])) {
                        assertThat(got[i + 2]).as("%s %s element %d", op, t, i).isEqualTo(want[i + 2]);
                        want[i + 2] = got[i + 2] = 0;
                    }
                }
                assertClose("binary " + op, t, "n=" + n, new Ref(want, mag), got, 1);
                // out aliasing a exactly
                k.binary(op, t, da, es, db, 0, da, es, n);
                assertThat(download(t, da, 1, n)).as("%s %s in place", op, t)
                        .containsExactly(written);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void scaleExactAndSiluWithOffsetsAndAliasing(DType t) {
        floats(t);
        Random rnd = new Random(20);
        int es = t.byteSize();
        for (int n : new int[] {1, 45, 257, 5000}) {
            double[] x = random(rnd, t, n + 3, 30);
            x[3] = 0;
            if (n > 2) {
                x[4] = -100;
                x[5] = 100;
            }
            double[] tail = Arrays.copyOfRange(x, 3, n + 3);
            DeviceBuffer dx = upload(t, x);
            DeviceBuffer out = nans(t, n + 2);
            k.scale(t, dx, 3L * es, out, es, n, -0.375);
            double[] want = new double[n + 2];
            Arrays.fill(want, Double.NaN);
            for (int i = 0; i < n; i++) {
                want[i + 1] = round(t, -0.375 * tail[i]);
            }
            assertClose("scale", t, "n=" + n, exact(want), download(t, out, 0, n + 2), 1);
            k.silu(t, dx, 3L * es, out, es, n);
            Ref silu = KernelReference.silu(tail);
            double[] got = download(t, out, 1, n);
            assertClose("silu", t, "n=" + n, silu, got, 4);
            k.silu(t, dx, 3L * es, dx, 3L * es, n);
            assertThat(download(t, dx, 3, n)).as("silu %s in place", t).containsExactly(got);
        }
    }

    // ------------------------------------------------------------------ row operations

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void rmsnormRows(DType t) {
        floats(t);
        Random rnd = new Random(21);
        for (int[] s : new int[][] {{1, 288}, {5, 288}, {3, 1}, {2, 1000}, {3, 777}, {7, 64}, {1, 768}}) {
            int rows = s[0];
            int cols = s[1];
            double[] x = random(rnd, t, rows * cols, 3);
            double[] w = random(rnd, t, cols, 2);
            DeviceBuffer dx = upload(t, x);
            DeviceBuffer dw = upload(t, w);
            DeviceBuffer out = nans(t, rows * cols);
            k.rmsnorm(t, dx, 0, dw, 0, out, 0, rows, cols, 1e-5);
            assertClose("rmsnorm", t, rows + "x" + cols, KernelReference.rmsnorm(x, w, rows, cols, 1e-5),
                    download(t, out, 0, rows * cols), Math.sqrt(cols));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void softmaxValidColumnsZeroedAndInPlace(DType t) {
        floats(t);
        Random rnd = new Random(22);
        // {rows, cols, valid, scale}: padded rows, one column, the stories15M vocabulary row
        for (int[] s : new int[][] {{4, 600, 517, 20}, {5, 288, 200, 3}, {3, 1, 1, 3}, {2, 1000, 1000, 10},
            {1, 32_000, 32_000, 10}}) {
            int rows = s[0];
            int cols = s[1];
            int valid = s[2];
            double[] x = random(rnd, t, rows * cols, s[3]);
            DeviceBuffer dx = upload(t, x);
            DeviceBuffer out = nans(t, rows * cols);
            k.softmax(t, dx, 0, out, 0, rows, cols, valid);
            Ref want = KernelReference.softmax(x, rows, cols, valid);
            String shape = rows + "x" + cols + " valid " + valid;
            double[] got = download(t, out, 0, rows * cols);
            assertClose("softmax", t, shape, want, got, 4 + Math.sqrt(valid));
            k.softmax(t, dx, 0, dx, 0, rows, cols, valid);
            assertThat(download(t, dx, 0, rows * cols)).as("softmax %s %s in place", t, shape).containsExactly(got);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void ropeAtEarlyAndLatePositions(DType t) {
        floats(t);
        Random rnd = new Random(23);
        // {dim, headSize, pos}: stories15M, stories260K, the smallest, a long context, several heads
        for (int[] s : new int[][] {{288, 48, 17}, {64, 8, 255}, {2, 2, 0}, {768, 64, 1000}, {96, 32, 37}}) {
            int dim = s[0];
            int hs = s[1];
            int pos = s[2];
            double[] x = random(rnd, t, dim, 2);
            DeviceBuffer dx = upload(t, x);
            DeviceBuffer out = nans(t, dim);
            k.rope(t, dx, 0, out, 0, dim, hs, pos);
            String shape = "dim " + dim + " head " + hs + " pos " + pos;
            double[] got = download(t, out, 0, dim);
            assertClose("rope", t, shape, KernelReference.rope(x, hs, pos), got, 1 + pos / 8.0);
            k.rope(t, dx, 0, dx, 0, dim, hs, pos);
            assertThat(download(t, dx, 0, dim)).as("rope %s %s in place", t, shape).containsExactly(got);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void ropeRowsIsRopeAtConsecutivePositions(DType t) {
        floats(t);
        Random rnd = new Random(24);
        int rows = 5;
        int dim = 96;
        int hs = 32;
        int start = 9;
        double[] x = random(rnd, t, rows * dim, 2);
        DeviceBuffer dx = upload(t, x);
        DeviceBuffer out = nans(t, rows * dim);
        k.ropeRows(t, dx, 0, out, 0, rows, dim, hs, start);
        double[] got = download(t, out, 0, rows * dim);
        for (int r = 0; r < rows; r++) {
            assertClose("ropeRows", t, rows + " rows from pos " + start,
                    KernelReference.rope(Arrays.copyOfRange(x, r * dim, (r + 1) * dim), hs, start + r),
                    Arrays.copyOfRange(got, r * dim, (r + 1) * dim), 1 + (start + r) / 8.0);
        }
    }

    /** A buffer of int32 values (indices for the tensor-indexed forms). */
    private DeviceBuffer uploadInts(int... v) {
        DeviceBuffer b = device.allocate(4L * v.length, 64);
        buffers.add(b);
        device.copyFromHost(MemorySegment.ofArray(v), 0, b, 0, 4L * v.length);
        return b;
    }

    /**
     * The tensor-indexed forms ({@link Kernels#ropeAt}, {@link Kernels#attentionAt}, {@link Kernels#gatherRow},
     * {@link Kernels#scatterRow}, {@link Kernels#argmaxInto}) give exactly what the int forms give at the index held
     * in device memory (read at a non-zero byte offset).
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void tensorIndexedFormsEqualTheIntForms(DType t) {
        floats(t);
        Random rnd = new Random(31);
        int nHeads = 8;
        int nKv = 4;
        int hs = 8;
        int seq = 40;
        int dim = nHeads * hs;
        int kvDim = nKv * hs;
        double[] x = random(rnd, t, dim, 2);
        double[] kc = random(rnd, t, seq * kvDim, 1);
        double[] vc = random(rnd, t, seq * kvDim, 1);
        DeviceBuffer dx = upload(t, x);
        DeviceBuffer dk = upload(t, kc);
        DeviceBuffer dv = upload(t, vc);
        for (int pos : new int[] {0, 13, seq - 1}) {
            DeviceBuffer idx = uploadInts(-7, pos, 99);
            DeviceBuffer a = nans(t, dim);
            DeviceBuffer b = nans(t, dim);
            k.rope(t, dx, 0, a, 0, dim, hs, pos);
            k.ropeAt(t, dx, 0, b, 0, dim, hs, idx, 4);
            assertThat(download(t, b, 0, dim)).as("ropeAt %s pos %d", t, pos).containsExactly(download(t, a, 0, dim));
            DeviceBuffer att1 = nans(t, nHeads * seq);
            DeviceBuffer att2 = nans(t, nHeads * seq);
            k.attention(t, dx, 0, dk, 0, dv, 0, att1, 0, seq, a, 0, nHeads, nKv, hs, pos);
            k.attentionAt(t, dx, 0, dk, 0, dv, 0, att2, 0, seq, b, 0, nHeads, nKv, hs, idx, 4);
            assertThat(download(t, b, 0, dim)).as("attentionAt %s pos %d", t, pos)
                    .containsExactly(download(t, a, 0, dim));
            DeviceBuffer row = nans(t, kvDim);
            k.gatherRow(t, dk, 0, seq, kvDim, idx, 4, row, 0);
            assertThat(download(t, row, 0, kvDim)).as("gatherRow %s row %d", t, pos)
                    .containsExactly(Arrays.copyOfRange(kc, pos * kvDim, (pos + 1) * kvDim));
        }
        DeviceBuffer table = upload(t, kc);
        DeviceBuffer src = upload(t, Arrays.copyOf(x, kvDim));
        k.scatterRow(t, src, 0, table, 0, seq, kvDim, uploadInts(0, 21), 4);
        double[] want = kc.clone();
        System.arraycopy(x, 0, want, 21 * kvDim, kvDim);
        assertThat(download(t, table, 0, seq * kvDim)).as("scatterRow %s into row 21 only", t).containsExactly(want);
        DeviceBuffer pick = uploadInts(-1, -1, -1);
        k.argmaxInto(t, dk, 0, seq * kvDim, pick, 8);
        int[] got = new int[3];
        device.copyToHost(pick, 0, MemorySegment.ofArray(got), 0, 12);
        assertThat(got).as("argmaxInto %s", t).containsExactly(-1, -1, (int) k.argmax(t, dk, 0, seq * kvDim));
    }

    // ------------------------------------------------------------------ attention

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void attentionWithGroupedQueriesAndWeights(DType t) {
        floats(t);
        Random rnd = new Random(25);
        // {nHeads, nKvHeads, headSize, seq, pos}: stories15M first and last position, stories260K (GQA), one KV
        // head, more positions than a GPU block has threads
        int[][] shapes = {{6, 6, 48, 256, 0}, {6, 6, 48, 256, 255}, {8, 4, 8, 512, 100}, {3, 1, 5, 300, 299},
            {8, 2, 16, 300, 299}};
        for (int[] s : shapes) {
            int nHeads = s[0];
            int nKv = s[1];
            int hs = s[2];
            int seq = s[3];
            int pos = s[4];
            double[] q = random(rnd, t, nHeads * hs, 1);
            double[] kc = random(rnd, t, seq * nKv * hs, 1);
            double[] vc = random(rnd, t, seq * nKv * hs, 1);
            DeviceBuffer dq = upload(t, q);
            DeviceBuffer dk = upload(t, kc);
            DeviceBuffer dv = upload(t, vc);
            DeviceBuffer att = nans(t, nHeads * seq);
            DeviceBuffer out = nans(t, nHeads * hs);
            k.attention(t, dq, 0, dk, 0, dv, 0, att, 0, seq, out, 0, nHeads, nKv, hs, pos);
            Ref[] want = KernelReference.attention(q, kc, vc, nHeads, nKv, hs, pos);
            String shape = nHeads + "/" + nKv + " heads of " + hs + " pos " + pos;
            double factor = 4 + Math.sqrt(pos + 1.0);
            assertClose("attention", t, shape, want[0], download(t, out, 0, nHeads * hs), factor);
            double[] gotAtt = download(t, att, 0, nHeads * seq);
            double[] weights = new double[nHeads * (pos + 1)];
            for (int h = 0; h < nHeads; h++) {
                System.arraycopy(gotAtt, h * seq, weights, h * (pos + 1), pos + 1);
            }
            assertClose("attention weights", t, shape, want[1], weights, factor);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void causalAttentionRowsAttendUpToTheirPosition(DType t) {
        floats(t);
        Random rnd = new Random(26);
        int rows = 4;
        int nHeads = 4;
        int nKv = 2;
        int hs = 8;
        int seq = 40;
        int start = 6;
        double[] q = random(rnd, t, rows * nHeads * hs, 1);
        double[] kc = random(rnd, t, seq * nKv * hs, 1);
        double[] vc = random(rnd, t, seq * nKv * hs, 1);
        DeviceBuffer dq = upload(t, q);
        DeviceBuffer dk = upload(t, kc);
        DeviceBuffer dv = upload(t, vc);
        DeviceBuffer att = nans(t, nHeads * seq);
        DeviceBuffer out = nans(t, rows * nHeads * hs);
        k.causalAttention(t, dq, 0, dk, 0, dv, 0, att, 0, seq, out, 0, rows, nHeads, nKv, hs, start);
        double[] got = download(t, out, 0, rows * nHeads * hs);
        int width = nHeads * hs;
        for (int r = 0; r < rows; r++) {
            Ref want = KernelReference.attention(Arrays.copyOfRange(q, r * width, (r + 1) * width), kc, vc, nHeads,
                    nKv, hs, start + r)[0];
            assertClose("causalAttention", t, rows + " rows from pos " + start, want,
                    Arrays.copyOfRange(got, r * width, (r + 1) * width), 4 + Math.sqrt(start + r + 1.0));
        }
    }

    // ------------------------------------------------------------------ reductions

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void argmaxFirstOfTiesAndNeverNaN(DType t) {
        floats(t);
        double nan = Double.NaN;
        double inf = Double.POSITIVE_INFINITY;
        double[][] cases = {
            {1, 3, 2, 3}, {-5, -1, -7}, {nan, 2, nan, 5, 5}, {nan, nan, nan}, {2, nan}, {-inf, -inf},
            {0.0, inf, 1e30}, {7}, {-0.0, 0.0},
        };
        for (double[] v : cases) {
            double[] padded = new double[v.length + 2];
            System.arraycopy(v, 0, padded, 2, v.length);
            padded[0] = 1e30; // before the window: must not count
            DeviceBuffer b = upload(t, padded);
            assertThat(k.argmax(t, b, 2L * t.byteSize(), v.length)).as("argmax %s of %s", t, Arrays.toString(v))
                    .isEqualTo(KernelReference.argmax(v));
        }
        Random rnd = new Random(27);
        for (int n : new int[] {257, 32_000, 300_000}) {
            double[] x = random(rnd, t, n, 1);
            x[n - 1] = 2;
            x[n / 2] = 2;
            x[n / 3] = nan;
            DeviceBuffer b = upload(t, x);
            assertThat(k.argmax(t, b, 0, n)).as("argmax %s of %d", t, n).isEqualTo(n / 2);
            int from = n / 2 + 1; // a window that starts after the first maximum
            assertThat(k.argmax(t, b, (long) from * t.byteSize(), n - from)).isEqualTo(n - 1 - from);
        }
        record("argmax " + t.displayName(), "index equal", 0, 0);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void reduceSumShortLongAndEmptyRows(DType t) {
        floats(t);
        Random rnd = new Random(28);
        for (int[] s : new int[][] {{1000, 7}, {5, 10_000}, {3, 1}, {1000, 3}, {2, 1000}, {7, 64}, {9, 0}}) {
            int outer = s[0];
            int inner = s[1];
            double[] x = random(rnd, t, outer * inner, 1);
            DeviceBuffer dx = upload(t, x);
            DeviceBuffer out = nans(t, outer);
            k.reduceSum(t, dx, 0, out, 0, outer, inner);
            Ref want = KernelReference.reduceSum(x, outer, inner);
            assertClose("reduceSum", t, outer + "x" + inner, want, download(t, out, 0, outer), Math.sqrt(inner + 1));
        }
    }

    // ------------------------------------------------------------------ strided copy

    @ParameterizedTest
    @EnumSource(DType.class)
    void stridedCopyPermutationsBroadcastsDiagonalsOfEveryType(DType t) {
        // {srcElems, elemOffset, shape..., strides...}
        copy(t, 24, 0, new long[] {24}, new long[] {1});                          // contiguous
        copy(t, 24, 0, new long[] {2, 3, 4}, new long[] {12, 4, 1});              // contiguous, 3-D
        copy(t, 24, 0, new long[] {4, 6}, new long[] {1, 4});                     // transpose
        copy(t, 61, 1, new long[] {5, 3, 4}, new long[] {1, 20, 5});              // 3-D permutation at an offset
        copy(t, 40, 3, new long[] {3, 5}, new long[] {10, 1});                    // rows with gaps
        copy(t, 40, 3, new long[] {3, 2, 5}, new long[] {10, 0, 1});              // broadcast middle axis
        copy(t, 10, 2, new long[] {4, 7}, new long[] {1, 0});                     // broadcast inner axis
        copy(t, 16, 0, new long[] {3, 4}, new long[] {0, 5});                     // diagonal, broadcast over 3
        copy(t, 24, 0, new long[] {1, 4, 1, 6, 1}, new long[] {99, 6, 5, 1, 0});  // size-1 axes
        copy(t, 30, 0, new long[] {2, 3, 5}, new long[] {15, 1, 3});              // inner axis strided
        copy(t, 24, 0, new long[] {3, 0, 2}, new long[] {1, 1, 1});               // empty
        long[] cube = new long[8];
        long[] fastFirst = new long[8];
        for (int d = 0; d < 8; d++) {
            cube[d] = 2;
            fastFirst[d] = 1L << d;
        }
        copy(t, 256, 0, cube, fastFirst);                                          // rank 8, nothing merges
        copy(t, 60_000, 0, new long[] {200, 300}, new long[] {1, 200});           // a large transpose
        copy(t, 33 * 257, 0, new long[] {33, 257}, new long[] {1, 33});            // odd transpose
        copy(t, 5040, 0, new long[] {2, 3, 4, 5, 6, 7}, new long[] {1, 2, 6, 24, 120, 720}); // rank-6 reversal
        copy(t, 255, 0, new long[] {17, 3, 5}, new long[] {1, 17, 51});          // full transpose of 5x3x17
    }

    private void copy(DType t, int srcElems, long elemOffset, long[] shape, long[] strides) {
        int es = t.byteSize();
        byte[] src = new byte[srcElems * es];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) (i * 31 + 7);
        }
        byte[] want = KernelReference.gather(src, es, elemOffset, shape, strides);
        DeviceBuffer s = uploadBytes(src);
        byte[] poison = new byte[want.length + 2 * es];
        Arrays.fill(poison, (byte) 0x5A);
        DeviceBuffer d = uploadBytes(poison);
        k.stridedCopy(t, s, elemOffset * es, shape, strides, d, es);
        byte[] got = downloadBytes(d, 0, poison.length);
        String what = t + " shape " + Arrays.toString(shape) + " strides " + Arrays.toString(strides);
        assertThat(Arrays.copyOfRange(got, es, es + want.length)).as("stridedCopy %s", what).isEqualTo(want);
        assertThat(Arrays.copyOfRange(got, 0, es)).as("stridedCopy %s: before dst", what).containsOnly(0x5A);
        assertThat(Arrays.copyOfRange(got, es + want.length, got.length)).as("stridedCopy %s: after", what)
                .containsOnly(0x5A);
        record("stridedCopy " + t.displayName(), "bits equal", 0, 0);
    }

    // ------------------------------------------------------------------ Device memory calls

    @ParameterizedTest
    @EnumSource(DType.class)
    void fillConvertsAsACastAndCopiesMoveBytes(DType t) {
        int n = 70_001;
        int es = t.byteSize();
        for (double v : new double[] {0, -1.5, 3.25, 0.1}) {
            DeviceBuffer b = uploadBytes(new byte[(n + 2) * es]);
            device.fill(b, es, n, t, v);
            byte[] got = downloadBytes(b, 0, (n + 2) * es);
            byte[] one = new byte[es];
            long bits = switch (t) {
                case F32 -> Float.floatToRawIntBits((float) v);
                case F64 -> Double.doubleToRawLongBits(v);
                case F16 -> Float.floatToFloat16((float) v);
                case BF16 -> bf16(v);
                case I32 -> (int) v;
                case I64 -> (long) v;
            };
            for (int i = 0; i < es; i++) {
                one[i] = (byte) (bits >>> (8 * i)); // little-endian, as every backend stores
            }
            for (int e = 0; e < n + 2; e++) {
                byte[] el = Arrays.copyOfRange(got, e * es, (e + 1) * es);
                assertThat(el).as("fill %s %s element %d", t, v, e - 1)
                        .isEqualTo(e == 0 || e == n + 1 ? new byte[es] : one);
            }
        }
        // device-to-device copy between offsets, then back to the host
        byte[] src = new byte[1000];
        new Random(29).nextBytes(src);
        DeviceBuffer a = uploadBytes(src);
        DeviceBuffer c = uploadBytes(new byte[1000]);
        device.copy(a, 64, c, 128, 512);
        byte[] got = downloadBytes(c, 0, 1000);
        assertThat(Arrays.copyOfRange(got, 128, 640)).isEqualTo(Arrays.copyOfRange(src, 64, 576));
        assertThat(Arrays.copyOfRange(got, 0, 128)).containsOnly(0);
        assertThat(Arrays.copyOfRange(got, 640, 1000)).containsOnly(0);
        DeviceBuffer empty = device.allocate(0, 64);
        assertThat(empty.byteSize()).isZero();
        device.free(empty);
        record("fill/copy " + t.displayName(), "bits equal", 0, 0);
    }

    /** bfloat16 bits of {@code v}: float32 rounded to nearest even on its upper half. */
    private static long bf16(double v) {
        int f = Float.floatToRawIntBits((float) v);
        return ((f + 0x7FFF + ((f >>> 16) & 1)) >>> 16) & 0xFFFF;
    }

    // ------------------------------------------------------------------ fixed values from PyTorch

    /**
     * Each kernel on small fixed inputs against float64 PyTorch (1.13) results, printed by
     * {@code /usr/bin/python3 scripts/kernel_conformance_pins.py} and pasted here; PyTorch's formulations differ from
     * {@link KernelReference}'s loops (complex-multiply RoPE, {@code torch.addmm}, {@code rsqrt}), so these also check
     * the references.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void matchesPyTorchOnFixedInputs(DType t) {
        floats(t);
        pinned(t, "softmax", new double[] {1, 2, 3, 4, -1, 9},
                new double[] {0.031920112758713086, 0.0867678624743735, 0.23585950385832297, 0.6411326034074454,
                    0.0043199175011450494, 0},
                KernelReference.softmax(new double[] {1, 2, 3, 4, -1, 9}, 1, 6, 5).value(),
                (in) -> k.softmax(t, in[0], 0, in[1], 0, 1, 6, 5));
        double[] x = {1, 2, 3, 4, -0.5, 0.25, 2, -3};
        double[] w = {0.5, 1, 1.5, 2};
        pinned(t, "rmsnorm", concat(x, w),
                new double[] {0.1825740641190532, 0.7302962564762128, 1.6431665770714787, 2.921185025904851,
                    -0.1370375360876725, 0.1370375360876725, 1.64445043305207, -3.28890086610414},
                KernelReference.rmsnorm(x, w, 2, 4, 1e-5).value(),
                (in) -> k.rmsnorm(t, in[0], 0, in[0], 8L * t.byteSize(), in[1], 0, 2, 4, 1e-5));
        double[] s = {-3, -0.5, 0, 0.5, 3};
        pinned(t, "silu", s,
                new double[] {-0.14227761953270035, -0.1887703343990727, 0.0, 0.3112296656009273, 2.8577223804672998},
                KernelReference.silu(s).value(), (in) -> k.silu(t, in[0], 0, in[1], 0, 5));
        double[] r = new double[8];
        for (int i = 0; i < 8; i++) {
            r[i] = (i + 1) * 0.1;
        }
        pinned(t, "rope", r,
                new double[] {-0.127223251272018, -0.18388649851410235, 0.287866810043698, 0.40881866356034374,
                    -0.579668253136143, -0.5234354939303337, 0.6756886234622949, 0.8206368771409371},
                KernelReference.rope(r, 4, 3).value(), (in) -> k.rope(t, in[0], 0, in[1], 0, 8, 4, 3));
        double[] q = {0.5, -1, 1.5, 0.25};
        double[] kc = {1, 0, 0, 1, 1, 1};
        double[] vc = {1, 2, 3, -1, 0.5, 0.5};
        pinned(t, "attention", concat(q, concat(kc, vc)),
                new double[] {1.2424405967988679, 1.0331710220251842, 1.088112286008677, 0.8377033189079073},
                KernelReference.attention(q, kc, vc, 2, 1, 2, 2)[0].value(), (in) -> {
                    DeviceBuffer att = nans(t, 6);
                    k.attention(t, in[0], 0, in[0], 4L * t.byteSize(), in[0], 10L * t.byteSize(), att, 0, 3, in[1],
                            0, 2, 1, 2, 2);
                    double[] weights = download(t, att, 0, 6);
                    double[] torchWeights = {0.5436863222802805, 0.18823897426349098, 0.2680747034562285,
                        0.3836503836183964, 0.15851483767979152, 0.4578347787018121};
                    assertClose("pinned attention weights", t, "torch", KernelReference.Ref.ofValues(torchWeights),
                            weights, 8);
                });
        double[] a = {1, 2, 3, -1, 0.5, 2};
        double[] b = {1, 0, -1, 2, 1, 0, 0.5, 0.5, 0.5, -2, 1, 3};
        double[] c = {1, 1, 1, 1, 2, -2, 0, 4};
        double[] gemm = {-3.5, 5.5, 4.0, 13.0, -5.5, -1.25, 1.125, 10.75};
        pinned(t, "gemm", concat(a, b), gemm,
                KernelReference.gemm(false, true, 2, 4, 3, 1.5, a, 0, 3, b, 0, 3, -0.5, c, 0, 4).value(), (in) -> {
                    DeviceBuffer dc = upload(t, c);
                    k.gemm(t, false, true, 2, 4, 3, 1.5, in[0], 0, 3, in[0], 6L * t.byteSize(), 3, -0.5, dc, 0, 4);
                    device.copy(dc, 0, in[1], 0, 8L * t.byteSize());
                });
    }

    /** Runs {@code op} on {in, out} and checks the output and the loop reference against the PyTorch values. */
    private void pinned(DType t, String op, double[] input, double[] torch, double[] loop,
                        Consumer<DeviceBuffer[]> run) {
        Ref want = KernelReference.Ref.ofValues(torch);
        assertClose("pinned " + op + " (loop reference)", DType.F64, "torch", want, loop, 8);
        double[] in = input.clone();
        for (int i = 0; i < in.length; i++) {
            in[i] = round(t, in[i]);
        }
        DeviceBuffer dIn = upload(t, in);
        DeviceBuffer dOut = nans(t, torch.length);
        run.accept(new DeviceBuffer[] {dIn, dOut});
        assertClose("pinned " + op, t, "torch", want, download(t, dOut, 0, torch.length), 8);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ------------------------------------------------------------------ unsupported types

    /** A type a kernel lacks throws {@link UnsupportedOperationException} naming the operation and the type. */
    @Test
    void unsupportedTypeNamesTheOperationAndTheType() {
        DType t = DType.I32;
        DeviceBuffer x = uploadBytes(new byte[256]);
        List<Map.Entry<String, Runnable>> calls = List.of(
                Map.entry("binary", () -> k.binary(BinaryOp.ADD, t, x, 0, x, 0, x, 0, 4)),
                Map.entry("scale", () -> k.scale(t, x, 0, x, 0, 4, 2)),
                Map.entry("silu", () -> k.silu(t, x, 0, x, 0, 4)),
                Map.entry("rmsnorm", () -> k.rmsnorm(t, x, 0, x, 0, x, 0, 1, 4, 1e-5)),
                Map.entry("softmax", () -> k.softmax(t, x, 0, x, 0, 1, 4, 4)),
                Map.entry("rope", () -> k.rope(t, x, 0, x, 0, 4, 4, 1)),
                Map.entry("attention", () -> k.attention(t, x, 0, x, 0, x, 0, x, 0, 1, x, 0, 1, 1, 4, 0)),
                Map.entry("argmax", () -> k.argmax(t, x, 0, 4)),
                Map.entry("reduce", () -> k.reduceSum(t, x, 0, x, 0, 1, 4)),
                Map.entry("gemm", () -> k.gemmStridedBatched(t, false, false, 1, 1, 1, 1, x, 0, 1, 0, x, 0, 1, 0, 0,
                        x, 0, 1, 0, 1)));
        for (Map.Entry<String, Runnable> call : calls) {
            assertThatThrownBy(call.getValue()::run).as(call.getKey())
                    .isInstanceOf(UnsupportedOperationException.class)
                    .satisfies(e -> assertThat(e.getMessage().toLowerCase(Locale.ROOT))
                            .as("message of %s with %s", call.getKey(), t)
                            .contains(call.getKey().toLowerCase(Locale.ROOT))
                            .containsAnyOf(t.displayName(), t.name().toLowerCase(Locale.ROOT)));
        }
    }
}
