package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;

/** Every kernel against plain-loop references (llama2.c's formulas), in float32 and float64. */
class VulkanKernelsTest {

    private static VulkanDevice dev(DType t) {
        VulkanDevice d = VulkanTestDevice.get();
        if (t == DType.F64) {
            assumeTrue(d.supportsFloat64(), "device has no shaderFloat64");
        }
        return d;
    }

    private static double tol(DType t) {
        return t == DType.F32 ? 2e-6 : 1e-13;
    }

    static void assertClose(double[] actual, double[] expected, double rtol, double atol) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e)) {
                assertThat(a).as("element %d", i).isNaN();
                continue;
            }
            assertThat(Math.abs(a - e)).as("element %d: %s vs expected %s", i, a, e)
                    .isLessThanOrEqualTo(atol + rtol * Math.abs(e));
        }
    }

    private static double[] gemmRef(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a, int aOff,
                                    int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff,
                                    int ldc) {
        double[] out = c.clone();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                }
                int ci = cOff + i * ldc + j;
                out[ci] = alpha * s + (beta == 0 ? 0 : beta * c[ci]);
            }
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmAllTransposesShapesAndOffsets(DType t) {
        VulkanDevice d = dev(t);
        Kernels kr = d.kernels();
        int[][] shapes = {{17, 33, 45}, {1, 70, 129}, {40, 1, 65}, {64, 48, 16}, {3, 5, 0}};
        for (int[] s : shapes) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0;
                boolean tb = (tr & 2) != 0;
                int lda = (ta ? m : k) + 3;
                int ldb = (tb ? k : n) + 1;
                int ldc = n + 2;
                int aOff = 5;
                int bOff = 2;
                int cOff = 7;
                double[] a = Host.round(t, Host.random(1 + tr, aOff + (ta ? k : m) * lda + 1, 1));
                double[] b = Host.round(t, Host.random(2 + tr, bOff + (tb ? n : k) * ldb + 1, 1));
                double[] c = Host.round(t, Host.random(3 + tr, cOff + m * ldc + 1, 1));
                for (double beta : new double[] {0, 0.5}) {
                    double[] cIn = c.clone();
                    if (beta == 0) {
                        for (int i = 0; i < cIn.length; i++) {
                            cIn[i] = Double.NaN; // must not be read
                        }
                    }
                    DeviceBuffer da = Host.upload(d, t, a);
                    DeviceBuffer db = Host.upload(d, t, b);
                    DeviceBuffer dc = Host.upload(d, t, cIn);
                    int es = t.byteSize();
                    kr.gemm(t, ta, tb, m, n, k, 1.5, da, (long) aOff * es, lda, db, (long) bOff * es, ldb, beta, dc,
                            (long) cOff * es, ldc);
                    double[] got = Host.read(d, t, dc, 0, cIn.length);
                    double[] want = gemmRef(ta, tb, m, n, k, 1.5, a, aOff, lda, b, bOff, ldb, beta, cIn, cOff, ldc);
                    // elements of C outside the m x n block keep their (NaN) values
                    assertClose(got, want, t == DType.F32 ? 1e-5 : 1e-13, t == DType.F32 ? 1e-5 * (k + 1) : 1e-13);
                    d.free(da);
                    d.free(db);
                    d.free(dc);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void gemmStridedBatchedWithBroadcast(DType t) {
        VulkanDevice d = dev(t);
        int m = 9;
        int n = 20;
        int k = 11;
        int batch = 3;
        double[] a = Host.round(t, Host.random(7, batch * m * k, 1));
        double[] b = Host.round(t, Host.random(8, k * n, 1)); // stride 0: one B for all
        double[] c = new double[batch * m * n];
        DeviceBuffer da = Host.upload(d, t, a);
        DeviceBuffer db = Host.upload(d, t, b);
        DeviceBuffer dc = Host.upload(d, t, c);
        d.kernels().gemmStridedBatched(t, false, false, m, n, k, 1, da, 0, k, (long) m * k, db, 0, n, 0, 0, dc, 0,
                n, (long) m * n, batch);
        double[] got = Host.read(d, t, dc, 0, c.length);
        double[] want = c.clone();
        for (int z = 0; z < batch; z++) {
            double[] part = gemmRef(false, false, m, n, k, 1, a, z * m * k, k, b, 0, n, 0, c, z * m * n, n);
            System.arraycopy(part, z * m * n, want, z * m * n, m * n);
        }
        assertClose(got, want, 1e-5, t == DType.F32 ? 1e-5 : 1e-13);
        d.free(da);
        d.free(db);
        d.free(dc);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void binaryOpsAndAliasing(DType t) {
        VulkanDevice d = dev(t);
        int n = 1000;
        double[] a = Host.round(t, Host.random(11, n, 10));
        double[] b = Host.round(t, Host.random(12, n, 10));
        for (BinaryOp op : BinaryOp.values()) {
            DeviceBuffer da = Host.upload(d, t, a);
            DeviceBuffer db = Host.upload(d, t, b);
            d.kernels().binary(op, t, da, 0, db, 0, da, 0, n); // out aliases a
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                double x = a[i];
                double y = b[i];
                double r = switch (op) {
                    case ADD -> x + y;
                    case SUB -> x - y;
                    case MUL -> x * y;
                    case DIV -> x / y;
                };
                want[i] = t == DType.F32 ? (float) r : r;
            }
            assertClose(Host.read(d, t, da, 0, n), want, 0, 0);
            d.free(da);
            d.free(db);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void scaleAndSilu(DType t) {
        VulkanDevice d = dev(t);
        int n = 777;
        double[] x = Host.round(t, Host.random(13, n, 30));
        x[0] = 0;
        x[1] = -100;
        x[2] = 100;
        DeviceBuffer dx = Host.upload(d, t, x);
        DeviceBuffer out = d.allocate((long) n * t.byteSize() + 64, 64);
        d.kernels().scale(t, dx, 0, out, 64, n, -0.25);
        double[] want = new double[n];
        for (int i = 0; i < n; i++) {
            want[i] = t == DType.F32 ? (float) (-0.25 * x[i]) : -0.25 * x[i];
        }
        assertClose(Host.read(d, t, out, 64, n), want, 0, 0);
        d.kernels().silu(t, dx, 0, dx, 0, n);
        for (int i = 0; i < n; i++) {
            want[i] = x[i] / (1 + Math.exp(-x[i]));
        }
        assertClose(Host.read(d, t, dx, 0, n), want, tol(t), tol(t));
        d.free(dx);
        d.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void rmsnorm(DType t) {
        VulkanDevice d = dev(t);
        int rows = 3;
        int cols = 300;
        double[] x = Host.round(t, Host.random(14, rows * cols, 3));
        double[] w = Host.round(t, Host.random(15, cols, 1));
        DeviceBuffer dx = Host.upload(d, t, x);
        DeviceBuffer dw = Host.upload(d, t, w);
        DeviceBuffer out = d.allocate((long) rows * cols * t.byteSize(), 64);
        d.kernels().rmsnorm(t, dx, 0, dw, 0, out, 0, rows, cols, 1e-5);
        double[] want = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                ss += x[r * cols + j] * x[r * cols + j];
            }
            double inv = 1 / Math.sqrt(ss / cols + 1e-5);
            for (int j = 0; j < cols; j++) {
                want[r * cols + j] = w[j] * (inv * x[r * cols + j]);
            }
        }
        assertClose(Host.read(d, t, out, 0, rows * cols), want, 10 * tol(t), tol(t));
        d.free(dx);
        d.free(dw);
        d.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void softmaxWithValidColumnsInPlace(DType t) {
        VulkanDevice d = dev(t);
        int rows = 4;
        int cols = 300;
        int valid = 290;
        double[] x = Host.round(t, Host.random(16, rows * cols, 20));
        DeviceBuffer dx = Host.upload(d, t, x);
        d.kernels().softmax(t, dx, 0, dx, 0, rows, cols, valid);
        double[] want = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < valid; j++) {
                mx = Math.max(mx, x[r * cols + j]);
            }
            double sum = 0;
            for (int j = 0; j < valid; j++) {
                sum += Math.exp(x[r * cols + j] - mx);
            }
            for (int j = 0; j < valid; j++) {
                want[r * cols + j] = Math.exp(x[r * cols + j] - mx) / sum;
            }
        }
        assertClose(Host.read(d, t, dx, 0, rows * cols), want, 10 * tol(t), tol(t) * 1e-3);
        d.free(dx);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void ropeAsLlama2c(DType t) {
        VulkanDevice d = dev(t);
        int dim = 96;
        int headSize = 32;
        for (int pos : new int[] {0, 7, 255, 1000}) {
            double[] x = Host.round(t, Host.random(17 + pos, dim, 2));
            DeviceBuffer dx = Host.upload(d, t, x);
            d.kernels().rope(t, dx, 0, dx, 0, dim, headSize, pos);
            double[] want = new double[dim];
            for (int i = 0; i < dim; i += 2) {
                int hd = i % headSize;
                double fcr;
                double fci;
                if (t == DType.F32) {
                    float freq = 1.0f / (float) Math.pow(10000.0, hd / (float) headSize);
                    float val = pos * freq;
                    fcr = Math.cos(val);
                    fci = Math.sin(val);
                } else {
                    double freq = 1.0 / Math.pow(10000.0, hd / (double) headSize);
                    double val = pos * freq;
                    fcr = Math.cos(val);
                    fci = Math.sin(val);
                }
                want[i] = x[i] * fcr - x[i + 1] * fci;
                want[i + 1] = x[i] * fci + x[i + 1] * fcr;
            }
            assertClose(Host.read(d, t, dx, 0, dim), want, 10 * tol(t), 10 * tol(t));
            d.free(dx);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void attentionGroupedQuery(DType t) {
        VulkanDevice d = dev(t);
        int nHeads = 4;
        int nKv = 2;
        int hs = 8;
        int seq = 320;
        int kvDim = nKv * hs;
        for (int pos : new int[] {0, 5, 300}) {
            double[] q = Host.round(t, Host.random(20, nHeads * hs, 1));
            double[] k = Host.round(t, Host.random(21, seq * kvDim, 1));
            double[] v = Host.round(t, Host.random(22, seq * kvDim, 1));
            DeviceBuffer dq = Host.upload(d, t, q);
            DeviceBuffer dk = Host.upload(d, t, k);
            DeviceBuffer dv = Host.upload(d, t, v);
            DeviceBuffer att = d.allocate((long) nHeads * seq * t.byteSize(), 64);
            DeviceBuffer out = d.allocate((long) nHeads * hs * t.byteSize(), 64);
            d.kernels().attention(t, dq, 0, dk, 0, dv, 0, att, 0, seq, out, 0, nHeads, nKv, hs, pos);
            double[] want = new double[nHeads * hs];
            double[] wantAtt = new double[nHeads * (pos + 1)];
            for (int h = 0; h < nHeads; h++) {
                int g = h / (nHeads / nKv);
                double[] s = new double[pos + 1];
                double mx = Double.NEGATIVE_INFINITY;
                for (int tt = 0; tt <= pos; tt++) {
                    double dot = 0;
                    for (int i = 0; i < hs; i++) {
                        dot += q[h * hs + i] * k[tt * kvDim + g * hs + i];
                    }
                    s[tt] = dot / Math.sqrt(hs);
                    mx = Math.max(mx, s[tt]);
                }
                double sum = 0;
                for (int tt = 0; tt <= pos; tt++) {
                    s[tt] = Math.exp(s[tt] - mx);
                    sum += s[tt];
                }
                for (int tt = 0; tt <= pos; tt++) {
                    s[tt] /= sum;
                    wantAtt[h * (pos + 1) + tt] = s[tt];
                }
                for (int i = 0; i < hs; i++) {
                    double acc = 0;
                    for (int tt = 0; tt <= pos; tt++) {
                        acc += s[tt] * v[tt * kvDim + g * hs + i];
                    }
                    want[h * hs + i] = acc;
                }
            }
            assertClose(Host.read(d, t, out, 0, nHeads * hs), want, 20 * tol(t), 20 * tol(t));
            double[] gotAtt = Host.read(d, t, att, 0, nHeads * seq);
            double[] gotAttValid = new double[nHeads * (pos + 1)];
            for (int h = 0; h < nHeads; h++) {
                System.arraycopy(gotAtt, h * seq, gotAttValid, h * (pos + 1), pos + 1);
            }
            assertClose(gotAttValid, wantAtt, 20 * tol(t), 20 * tol(t));
            for (DeviceBuffer b : new DeviceBuffer[] {dq, dk, dv, att, out}) {
                d.free(b);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void argmaxFirstOnTiesAndNaN(DType t) {
        VulkanDevice d = dev(t);
        double[] x = Host.random(30, 5000, 1);
        x[1234] = 7;
        x[4321] = 7;
        x[10] = Double.NaN;
        DeviceBuffer dx = Host.upload(d, t, x);
        assertThat(d.kernels().argmax(t, dx, 0, x.length)).isEqualTo(1234);
        // with an offset past the first maximum
        assertThat(d.kernels().argmax(t, dx, 2000L * t.byteSize(), 3000)).isEqualTo(4321 - 2000);
        double[] nan = {Double.NaN, Double.NaN, Double.NaN};
        DeviceBuffer dn = Host.upload(d, t, nan);
        assertThat(d.kernels().argmax(t, dn, 0, 3)).isZero();
        double[] someNan = {Double.NaN, -5, Double.NaN, -1, -3};
        DeviceBuffer ds = Host.upload(d, t, someNan);
        assertThat(d.kernels().argmax(t, ds, 0, 5)).isEqualTo(3);
        d.free(dx);
        d.free(dn);
        d.free(ds);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void reduceSumRows(DType t) {
        VulkanDevice d = dev(t);
        int outer = 5;
        int inner = 1001;
        double[] x = Host.round(t, Host.random(31, outer * inner, 1));
        DeviceBuffer dx = Host.upload(d, t, x);
        DeviceBuffer out = d.allocate((long) outer * t.byteSize(), 64);
        d.kernels().reduceSum(t, dx, 0, out, 0, outer, inner);
        double[] want = new double[outer];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                want[o] += x[o * inner + i];
            }
        }
        assertClose(Host.read(d, t, out, 0, outer), want, 1e-5, t == DType.F32 ? 1e-4 : 1e-12);
        d.free(dx);
        d.free(out);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class)
    void stridedCopyTransposeAndBroadcastEveryType(DType t) {
        VulkanDevice d = VulkanTestDevice.get();
        int es = t.byteSize();
        // source: 3 x 4 x 5 row-major bytes pattern, 1 element of padding before
        int n = 60;
        MemorySegment host = Arena.ofAuto().allocate((long) (n + 1) * es, 8);
        for (int i = 0; i < (n + 1) * es; i++) {
            host.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 3));
        }
        DeviceBuffer src = d.allocate((long) (n + 1) * es, 64);
        d.copyFromHost(host, 0, src, 0, host.byteSize());
        // transpose (2, 0, 1) of a [3,4,5] tensor at element offset 1: shape [5,3,4], strides [1,20,5]
        long[] shape = {5, 3, 4};
        long[] strides = {1, 20, 5};
        DeviceBuffer dst = d.allocate((long) (n + 1) * es, 64);
        d.fill(dst, 0, n + 1, t, 0);
        d.kernels().stridedCopy(t, src, es, shape, strides, dst, es); // dst element offset 1 (odd for 2-byte)
        MemorySegment got = Arena.ofAuto().allocate((long) (n + 1) * es, 8);
        d.copyToHost(dst, 0, got, 0, got.byteSize());
        for (int b = 0; b < es; b++) {
            assertThat(got.get(ValueLayout.JAVA_BYTE, b)).as("byte before the range").isZero();
        }
        int o = 0;
        for (int i0 = 0; i0 < 5; i0++) {
            for (int i1 = 0; i1 < 3; i1++) {
                for (int i2 = 0; i2 < 4; i2++) {
                    long srcElem = 1 + i0 * strides[0] + i1 * strides[1] + i2 * strides[2];
                    for (int b = 0; b < es; b++) {
                        assertThat(got.get(ValueLayout.JAVA_BYTE, (1L + o) * es + b)).as("elem %d byte %d", o, b)
                                .isEqualTo(host.get(ValueLayout.JAVA_BYTE, srcElem * es + b));
                    }
                    o++;
                }
            }
        }
        // broadcast a row of 5 into 4 x 5 (stride 0)
        DeviceBuffer bc = d.allocate(20L * es, 64);
        d.kernels().stridedCopy(t, src, 0, new long[] {4, 5}, new long[] {0, 1}, bc, 0);
        MemorySegment gb = Arena.ofAuto().allocate(20L * es, 8);
        d.copyToHost(bc, 0, gb, 0, gb.byteSize());
        for (int r = 0; r < 4; r++) {
            for (int b = 0; b < 5 * es; b++) {
                assertThat(gb.get(ValueLayout.JAVA_BYTE, (long) r * 5 * es + b))
                        .isEqualTo(host.get(ValueLayout.JAVA_BYTE, b));
            }
        }
        d.free(src);
        d.free(dst);
        d.free(bc);
    }

    @Test
    void unsupportedTypesAndBadArgumentsAreRejected() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer b = d.allocate(64, 64);
        assertThatThrownBy(() -> d.kernels().silu(DType.I32, b, 0, b, 0, 4))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("silu");
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 0, b, 0, 17, 1))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 2, b, 0, 1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of the element size");
        assertThatThrownBy(() -> d.kernels().argmax(DType.F32, b, 0, 0))
                .isInstanceOf(IllegalArgumentException.class);
        d.free(b);
        assertThatThrownBy(() -> d.kernels().scale(DType.F32, b, 0, b, 0, 1, 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("after it was freed");
    }
}
