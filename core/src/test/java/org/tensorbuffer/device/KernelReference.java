package org.tensorbuffer.device;

/**
 * Plain double-precision loops for every {@link Kernels} operation, written from the {@link Kernels} Javadoc (and
 * llama2.c's {@code run.c} formulas it cites), for {@link KernelConformanceTest}. No blocking, no vectors, no
 * shortcuts: one loop per sum, in double, on inputs already rounded to the element type under test.
 *
 * <p>Every floating-point result comes as a {@link Ref}: the value and, per element, the magnitude its rounding error
 * scales with (the sum of the absolute values of the terms that were added; {@code |value|} for a product or
 * quotient), so that one relative tolerance per type serves sums with cancellation as well as plain products.
 */
public final class KernelReference {
    private KernelReference() {
    }

    /** Values and the magnitudes their rounding errors are relative to (same length). */
    public record Ref(double[] value, double[] magnitude) {
        static Ref ofValues(double[] value) {
            double[] mag = new double[value.length];
            for (int i = 0; i < value.length; i++) {
                mag[i] = Math.abs(value[i]);
            }
            return new Ref(value, mag);
        }
    }

    /**
     * Row-major {@code C = alpha op(A) op(B) + beta C} over the whole array {@code c} (elements outside the
     * {@code m x n} block keep their values); with {@code beta == 0} the old C is not read (NaNs do not propagate).
     */
    public static Ref gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff,
                           int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
        double[] out = c.clone();
        double[] mag = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            mag[i] = Math.abs(c[i]);
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double abs = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                    abs += Math.abs(av * bv);
                }
                int ci = cOff + i * ldc + j;
                out[ci] = beta == 0 ? alpha * s : alpha * s + beta * c[ci];
                mag[ci] = Math.abs(alpha) * abs + (beta == 0 ? 0 : Math.abs(beta * c[ci]));
            }
        }
        return new Ref(out, mag);
    }

    /** RMSNorm of each row: {@code w[j] * x[r][j] / sqrt(mean(x[r]^2) + eps)}. */
    public static Ref rmsnorm(double[] x, double[] w, int rows, int cols, double eps) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                ss += x[r * cols + j] * x[r * cols + j];
            }
            double inv = 1 / Math.sqrt(ss / cols + eps);
            for (int j = 0; j < cols; j++) {
                out[r * cols + j] = w[j] * x[r * cols + j] * inv;
            }
        }
        return Ref.ofValues(out);
    }

    /** Softmax over the first {@code valid} of every {@code cols} elements; the rest of each row 0. */
    public static Ref softmax(double[] x, int rows, int cols, int valid) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < valid; j++) {
                max = Math.max(max, x[r * cols + j]);
            }
            double sum = 0;
            for (int j = 0; j < valid; j++) {
                sum += Math.exp(x[r * cols + j] - max);
            }
            for (int j = 0; j < valid; j++) {
                out[r * cols + j] = Math.exp(x[r * cols + j] - max) / sum;
            }
        }
        return Ref.ofValues(out);
    }

    /** SiLU: {@code x / (1 + exp(-x))}. */
    public static Ref silu(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] / (1 + Math.exp(-x[i]));
        }
        return Ref.ofValues(out);
    }

    /**
     * Rotary embedding of one vector of {@code x.length} elements at {@code pos}: pair {@code (2i, 2i+1)} rotated by
     * {@code pos / 10000^((2i % headSize) / headSize)}.
     */
    public static Ref rope(double[] x, int headSize, int pos) {
        double[] out = new double[x.length];
        double[] mag = new double[x.length];
        for (int i = 0; i < x.length; i += 2) {
            double theta = pos / Math.pow(10000.0, (double) (i % headSize) / headSize);
            double cos = Math.cos(theta);
            double sin = Math.sin(theta);
            out[i] = x[i] * cos - x[i + 1] * sin;
            out[i + 1] = x[i] * sin + x[i + 1] * cos;
            mag[i] = Math.abs(x[i] * cos) + Math.abs(x[i + 1] * sin);
            mag[i + 1] = Math.abs(x[i] * sin) + Math.abs(x[i + 1] * cos);
        }
        return new Ref(out, mag);
    }

    /**
     * Attention of one query over cache positions {@code 0..pos} (grouped-query: head {@code h} reads KV head
     * {@code h / (nHeads / nKvHeads)}). Returns {out ({@code nHeads * headSize}), weights ({@code nHeads * (pos+1)})}.
     */
    public static Ref[] attention(double[] q, double[] k, double[] v, int nHeads, int nKvHeads, int headSize,
                                  int pos) {
        int kvDim = nKvHeads * headSize;
        double[] out = new double[nHeads * headSize];
        double[] outMag = new double[out.length];
        double[] weights = new double[nHeads * (pos + 1)];
        for (int h = 0; h < nHeads; h++) {
            int g = h / (nHeads / nKvHeads);
            double[] score = new double[pos + 1];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t <= pos; t++) {
                double dot = 0;
                for (int i = 0; i < headSize; i++) {
                    dot += q[h * headSize + i] * k[t * kvDim + g * headSize + i];
                }
                score[t] = dot / Math.sqrt(headSize);
                max = Math.max(max, score[t]);
            }
            double sum = 0;
            for (int t = 0; t <= pos; t++) {
                sum += Math.exp(score[t] - max);
            }
            for (int t = 0; t <= pos; t++) {
                weights[h * (pos + 1) + t] = Math.exp(score[t] - max) / sum;
            }
            for (int i = 0; i < headSize; i++) {
                double acc = 0;
                double abs = 0;
                for (int t = 0; t <= pos; t++) {
                    double term = weights[h * (pos + 1) + t] * v[t * kvDim + g * headSize + i];
                    acc += term;
                    abs += Math.abs(term);
                }
                out[h * headSize + i] = acc;
                outMag[h * headSize + i] = abs;
            }
        }
        return new Ref[] {new Ref(out, outMag), Ref.ofValues(weights)};
    }

    /** Row sums of an {@code outer x inner} matrix. */
    public static Ref reduceSum(double[] x, int outer, int inner) {
        double[] out = new double[outer];
        double[] mag = new double[outer];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                out[o] += x[o * inner + i];
                mag[o] += Math.abs(x[o * inner + i]);
            }
        }
        return new Ref(out, mag);
    }

    /** Index of the first largest element, NaN never the largest unless all are NaN (then 0). */
    public static long argmax(double[] x) {
        int best = -1;
        for (int i = 0; i < x.length; i++) {
            if (!Double.isNaN(x[i]) && (best < 0 || x[i] > x[best])) {
                best = i;
            }
        }
        return Math.max(best, 0);
    }

    /**
     * The strided gather: elements of {@code es} bytes at {@code elemOffset + sum_d i[d] * strides[d]} of
     * {@code src}, in row-major order of {@code shape} (a rank-0 shape is one element).
     */
    public static byte[] gather(byte[] src, int es, long elemOffset, long[] shape, long[] strides) {
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        byte[] out = new byte[(int) count * es];
        long[] idx = new long[shape.length];
        for (int r = 0; r < count; r++) {
            long pos = elemOffset;
            for (int d = 0; d < shape.length; d++) {
                pos += idx[d] * strides[d];
            }
            System.arraycopy(src, (int) pos * es, out, r * es, es);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        return out;
    }
}
