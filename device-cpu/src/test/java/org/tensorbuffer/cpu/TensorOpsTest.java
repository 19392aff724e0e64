package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;

/**
 * The Tensor ops on the CPU device against independent references: plain double-precision loops written here, and
 * a few values computed with NumPy (noted where used).
 */
class TensorOpsTest {
    private final TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.REACTIVE);
    private final Random rnd = new Random(7);

    @AfterEach
    void close() {
        assertThat(ctx.pool().stats().liveBytes()).as("every tensor closed").isZero();
        ctx.close();
    }

    private double[] random(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextGaussian();
        }
        return a;
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            f[i] = (float) a[i];
        }
        return f;
    }

    /** Reference {@code C[b] = op(A[b]) @ op(B[b])} for row-major matrices. */
    private static double[] matmulRef(double[] a, double[] b, int batch, int m, int n, int k, boolean ta,
                                      boolean tb, boolean bcastA, boolean bcastB) {
        double[] c = new double[batch * m * n];
        for (int p = 0; p < batch; p++) {
            int ao = bcastA ? 0 : p * m * k;
            int bo = bcastB ? 0 : p * k * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int q = 0; q < k; q++) {
                        double x = ta ? a[ao + q * m + i] : a[ao + i * k + q];
                        double y = tb ? b[bo + j * k + q] : b[bo + q * n + j];
                        s += x * y;
                    }
                    c[p * m * n + i * n + j] = s;
                }
            }
        }
        return c;
    }

    @Test
    void matmulMatchesLoopsForEveryRankAndTranspose() {
        int m = 5, n = 7, k = 3;
        double[] a = random(m * k);
        double[] b = random(k * n);
        try (Tensor ta = ctx.fromArray(a, Shape.of(m, k)); Tensor tb = ctx.fromArray(b, Shape.of(k, n));
             Tensor c = ta.matmul(tb)) {
            assertThat(c.shape()).isEqualTo(Shape.of(m, n));
            assertThat(c.toDoubleArray()).containsExactly(matmulRef(a, b, 1, m, n, k, false, false, false, false),
                    within(1e-12));
        }
        // transposed operands: A stored [k, m], B stored [n, k]
        try (Tensor ta = ctx.fromArray(a, Shape.of(k, m)); Tensor tb = ctx.fromArray(b, Shape.of(n, k));
             Tensor c = ta.matmul(tb, true, true)) {
            assertThat(c.toDoubleArray()).containsExactly(matmulRef(a, b, 1, m, n, k, true, true, false, false),
                    within(1e-12));
        }
        // matrix @ vector and vector @ matrix, float32
        float[] w = toFloat(random(4 * 6));
        float[] x = toFloat(random(6));
        try (Tensor tw = ctx.fromArray(w, Shape.of(4, 6)); Tensor tx = ctx.fromArray(x, Shape.of(6));
             Tensor y = tw.matmul(tx); Tensor z = ctx.fromArray(new float[] {1, 1, 1, 1}, Shape.of(4));
             Tensor u = z.matmul(tw)) {
            assertThat(y.shape()).isEqualTo(Shape.of(4));
            float[] yv = y.toFloatArray();
            for (int i = 0; i < 4; i++) {
                double s = 0;
                for (int j = 0; j < 6; j++) {
                    s += (double) w[i * 6 + j] * x[j];
                }
                assertThat((double) yv[i]).isCloseTo(s, within(1e-5));
            }
            float[] uv = u.toFloatArray();
            for (int j = 0; j < 6; j++) {
                assertThat((double) uv[j]).isCloseTo(w[j] + w[6 + j] + w[12 + j] + w[18 + j], within(1e-5));
            }
        }
    }

    @Test
    void batchedMatmulWithBroadcast() {
        int batch = 3, m = 2, n = 4, k = 5;
        double[] a = random(batch * m * k);
        double[] b = random(k * n);
        try (Tensor ta = ctx.fromArray(a, Shape.of(batch, m, k)); Tensor tb = ctx.fromArray(b, Shape.of(k, n));
             Tensor c = ta.matmul(tb)) {
            assertThat(c.shape()).isEqualTo(Shape.of(batch, m, n));
            assertThat(c.toDoubleArray()).containsExactly(
                    matmulRef(a, b, batch, m, n, k, false, false, false, true), within(1e-12));
        }
    }

    @Test
    void numpyMatmulValues() {
        // numpy: np.array([[1,2],[3,4]]) @ np.array([[5,6],[7,8]]) == [[19,22],[43,50]]
        try (Tensor a = ctx.fromArray(new float[] {1, 2, 3, 4}, Shape.of(2, 2));
             Tensor b = ctx.fromArray(new float[] {5, 6, 7, 8}, Shape.of(2, 2)); Tensor c = a.matmul(b)) {
            assertThat(c.toFloatArray()).containsExactly(19, 22, 43, 50);
        }
    }

    @Test
    void elementwiseOps() {
        double[] a = random(10);
        double[] b = random(10);
        try (Tensor ta = ctx.fromArray(a, Shape.of(2, 5)); Tensor tb = ctx.fromArray(b, Shape.of(2, 5));
             Tensor add = ta.add(tb); Tensor sub = ta.sub(tb); Tensor mul = ta.mul(tb); Tensor div = ta.div(tb);
             Tensor sc = ta.scale(-2.5); Tensor si = ta.silu()) {
            double[] r1 = add.toDoubleArray(), r2 = sub.toDoubleArray(), r3 = mul.toDoubleArray();
            double[] r4 = div.toDoubleArray(), r5 = sc.toDoubleArray(), r6 = si.toDoubleArray();
            for (int i = 0; i < 10; i++) {
                assertThat(r1[i]).isCloseTo(a[i] + b[i], within(1e-15));
                assertThat(r2[i]).isCloseTo(a[i] - b[i], within(1e-15));
                assertThat(r3[i]).isCloseTo(a[i] * b[i], within(1e-15));
                assertThat(r4[i]).isCloseTo(a[i] / b[i], within(1e-12));
                assertThat(r5[i]).isCloseTo(-2.5 * a[i], within(1e-15));
                assertThat(r6[i]).isCloseTo(a[i] / (1 + Math.exp(-a[i])), within(1e-14));
            }
            ta.addInPlace(tb);
            assertThat(ta.toDoubleArray()).containsExactly(r1, within(1e-15));
        }
    }

    @Test
    void rmsnormSoftmaxMatchNumpy() {
        // numpy: x=np.array([1.,2.,3.,4.],dtype=np.float32); w=np.array([1.,.5,2.,1.]);
        //        w*x/np.sqrt(np.mean(x*x)+1e-5) -> [0.36514813, 0.36514813, 2.1908888, 1.4605925]
        //        np.exp(x-x.max())/np.exp(x-x.max()).sum() -> [0.0320586, 0.08714432, 0.23688282, 0.6439143]
        try (Tensor x = ctx.fromArray(new float[] {1, 2, 3, 4}, Shape.of(4));
             Tensor w = ctx.fromArray(new float[] {1, 0.5f, 2, 1}, Shape.of(4)); Tensor r = x.rmsnorm(w, 1e-5);
             Tensor s = x.softmax()) {
            assertThat(r.toFloatArray()).containsExactly(new float[] {0.36514813f, 0.36514813f, 2.1908888f,
                    1.4605925f}, within(1e-6f));
            assertThat(s.toFloatArray()).containsExactly(new float[] {0.0320586f, 0.08714432f, 0.23688282f,
                    0.6439143f}, within(1e-6f));
        }
        // rows are independent
        double[] a = random(12);
        try (Tensor x = ctx.fromArray(a, Shape.of(3, 4)); Tensor s = x.softmax()) {
            double[] sv = s.toDoubleArray();
            for (int r = 0; r < 3; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < 4; j++) {
                    max = Math.max(max, a[r * 4 + j]);
                }
                for (int j = 0; j < 4; j++) {
                    sum += Math.exp(a[r * 4 + j] - max);
                }
                for (int j = 0; j < 4; j++) {
                    assertThat(sv[r * 4 + j]).isCloseTo(Math.exp(a[r * 4 + j] - max) / sum, within(1e-14));
                }
            }
        }
    }

    @Test
    void ropeRotatesPairsAsLlama2c() {
        int dim = 8, head = 4, pos = 3;
        double[] x = random(dim);
        try (Tensor t = ctx.fromArray(x, Shape.of(dim)); Tensor r = t.rope(pos, head)) {
            double[] out = r.toDoubleArray();
            for (int i = 0; i < dim; i += 2) {
                double freq = 1.0 / Math.pow(10000.0, (i % head) / (double) head);
                double c = Math.cos(pos * freq), s = Math.sin(pos * freq);
                assertThat(out[i]).isCloseTo(x[i] * c - x[i + 1] * s, within(1e-12));
                assertThat(out[i + 1]).isCloseTo(x[i] * s + x[i + 1] * c, within(1e-12));
            }
        }
    }

    @Test
    void attentionWithGroupedQueryHeads() {
        int nHeads = 4, nKv = 2, hs = 3, seq = 5, pos = 2, kvDim = nKv * hs;
        double[] q = random(nHeads * hs);
        double[] kc = random(seq * kvDim);
        double[] vc = random(seq * kvDim);
        try (Tensor tq = ctx.fromArray(q, Shape.of(nHeads * hs)); Tensor tk = ctx.fromArray(kc, Shape.of(seq, kvDim));
             Tensor tv = ctx.fromArray(vc, Shape.of(seq, kvDim));
             Tensor out = Tensor.attention(tq, tk, tv, nHeads, nKv, hs, pos)) {
            double[] o = out.toDoubleArray();
            for (int h = 0; h < nHeads; h++) {
                int g = h / (nHeads / nKv);
                double[] att = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double s = 0;
                    for (int i = 0; i < hs; i++) {
                        s += q[h * hs + i] * kc[t * kvDim + g * hs + i];
                    }
                    att[t] = s / Math.sqrt(hs);
                    max = Math.max(max, att[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) {
                    att[t] = Math.exp(att[t] - max);
                    sum += att[t];
                }
                for (int i = 0; i < hs; i++) {
                    double v = 0;
                    for (int t = 0; t <= pos; t++) {
                        v += att[t] / sum * vc[t * kvDim + g * hs + i];
                    }
                    assertThat(o[h * hs + i]).isCloseTo(v, within(1e-12));
                }
            }
        }
    }

    @Test
    void argmaxEmbeddingPermuteGatherSum() {
        try (Tensor t = ctx.fromArray(new float[] {3, 9, 1, 9, -2, 0}, Shape.of(2, 3))) {
            assertThat(t.argmax()).isEqualTo(1); // first of the two maxima
            try (Tensor e = t.embedding(1, 0, 1)) {
                assertThat(e.shape()).isEqualTo(Shape.of(3, 3));
                assertThat(e.toFloatArray()).containsExactly(9, -2, 0, 3, 9, 1, 9, -2, 0);
            }
            try (Tensor p = t.permute(1, 0)) { // numpy: x.T -> [[3,9],[9,-2],[1,0]]
                assertThat(p.shape()).isEqualTo(Shape.of(3, 2));
                assertThat(p.toFloatArray()).containsExactly(3, 9, 9, -2, 1, 0);
            }
            try (Tensor s = t.sumLastAxes(1); Tensor all = t.sumLastAxes(2)) {
                assertThat(s.toFloatArray()).containsExactly(13, 7);
                assertThat(all.shape()).isEqualTo(Shape.scalar());
                assertThat(all.item()).isEqualTo(20);
            }
            assertThatThrownBy(() -> t.embedding(2)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("id 2");
        }
        // a diagonal through a repeated stride: np.einsum('ii->i', x)
        try (Tensor ar = ctx.arange(0, 9, 1, DType.F64); Tensor sq = ar.reshape(3, 3);
             Tensor d = sq.gather(Shape.of(3), new long[] {4})) {
            assertThat(d.toDoubleArray()).containsExactly(0, 4, 8);
        }
        double[] a = random(2 * 3 * 4);
        try (Tensor t = ctx.fromArray(a, Shape.of(2, 3, 4)); Tensor p = t.permute(2, 0, 1)) {
            double[] pv = p.toDoubleArray();
            int idx = 0;
            for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 3; j++) {
                        assertThat(pv[idx++]).isEqualTo(a[i * 12 + j * 4 + k]);
                    }
                }
            }
        }
    }

    @Test
    void badInputsAreNamed() {
        try (Tensor a = ctx.zeros(Shape.of(2, 3), DType.F32); Tensor b = ctx.zeros(Shape.of(2, 3), DType.F32);
             Tensor d = ctx.zeros(Shape.of(2, 3), DType.F64); Tensor i = ctx.zeros(Shape.of(2, 3), DType.I32)) {
            assertThatThrownBy(() -> a.matmul(b)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("matmul shape mismatch").hasMessageContaining("[2, 3]");
            assertThatThrownBy(() -> a.add(d)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dtype mismatch").hasMessageContaining("float32")
                    .hasMessageContaining("float64");
            assertThatThrownBy(() -> i.silu()).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("int32");
            assertThatThrownBy(() -> a.permute(0, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("permutation");
            assertThatThrownBy(() -> a.rope(0, 3)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> a.rmsnorm(b, 1e-5)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("weight");
        }
        try (Tensor z = ctx.zeros(Shape.of(0, 4), DType.F32); Tensor w = ctx.zeros(Shape.of(4, 3), DType.F32);
             Tensor c = z.matmul(w)) {
            assertThat(c.shape()).isEqualTo(Shape.of(0, 3));
            assertThat(c.toFloatArray()).isEmpty();
            assertThatThrownBy(z::argmax).hasMessageContaining("empty");
        }
    }
}
