package org.tensorbuffer.cuda;

/**
 * Plain-loop references for the kernels, written from the {@link org.tensorbuffer.device.Kernels} Javadoc and
 * llama2.c's run.c. {@code f32} rounds every intermediate to float as run.c's float code does.
 */
final class Reference {
    private Reference() {
    }

    static double round(boolean f32, double v) {
        return f32 ? (float) v : v;
    }

    static double[] rmsnorm(boolean f32, double[] x, double[] w, int rows, int cols, double eps) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < cols; j++) {
                ss = round(f32, ss + round(f32, x[r * cols + j] * x[r * cols + j]));
            }
            ss = round(f32, ss / cols);
            ss = round(f32, ss + round(f32, eps));
            ss = round(f32, 1.0 / round(f32, Math.sqrt(ss)));
            for (int j = 0; j < cols; j++) {
                out[r * cols + j] = round(f32, w[j] * round(f32, ss * x[r * cols + j]));
            }
        }
        return out;
    }

    static double[] softmax(boolean f32, double[] x, int rows, int cols, int valid) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < valid; j++) {
                max = Math.max(max, x[r * cols + j]);
            }
            double sum = 0;
            for (int j = 0; j < valid; j++) {
                out[r * cols + j] = round(f32, Math.exp(round(f32, x[r * cols + j] - max)));
                sum = round(f32, sum + out[r * cols + j]);
            }
            for (int j = 0; j < valid; j++) {
                out[r * cols + j] = round(f32, out[r * cols + j] / sum);
            }
        }
        return out;
    }

    static double[] silu(boolean f32, double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double e = round(f32, Math.exp(-x[i]));
            out[i] = round(f32, x[i] * round(f32, 1.0 / round(f32, 1.0 + e)));
        }
        return out;
    }

    static double[] rope(boolean f32, double[] x, int headSize, int pos) {
        double[] out = x.clone();
        for (int i = 0; i < x.length; i += 2) {
            int headDim = i % headSize;
            double freq = round(f32, 1.0 / round(f32, Math.pow(10000.0, round(f32, (double) headDim / headSize))));
            double val = round(f32, pos * freq);
            double fcr = round(f32, Math.cos(val));
            double fci = round(f32, Math.sin(val));
            out[i] = round(f32, round(f32, x[i] * fcr) - round(f32, x[i + 1] * fci));
            out[i + 1] = round(f32, round(f32, x[i] * fci) + round(f32, x[i + 1] * fcr));
        }
        return out;
    }

    /** Returns {out (nHeads*headSize), att (nHeads*attStride, positions > pos left 0)}. */
    static double[][] attention(boolean f32, double[] q, double[] k, double[] v, int attStride, int nHeads,
                                int nKvHeads, int headSize, int pos) {
        int kvDim = nKvHeads * headSize;
        int kvMul = nHeads / nKvHeads;
        double[] att = new double[nHeads * attStride];
        double[] out = new double[nHeads * headSize];
        for (int h = 0; h < nHeads; h++) {
            int g = h / kvMul;
            double[] scores = new double[pos + 1];
            for (int t = 0; t <= pos; t++) {
                double s = 0;
                for (int i = 0; i < headSize; i++) {
                    s = round(f32, s + round(f32, q[h * headSize + i] * k[t * kvDim + g * headSize + i]));
                }
                scores[t] = round(f32, s / round(f32, Math.sqrt(headSize)));
            }
            double[] p = softmax(f32, scores, 1, pos + 1, pos + 1);
            System.arraycopy(p, 0, att, h * attStride, pos + 1);
            for (int i = 0; i < headSize; i++) {
                double acc = 0;
                for (int t = 0; t <= pos; t++) {
                    acc = round(f32, acc + round(f32, p[t] * v[t * kvDim + g * headSize + i]));
                }
                out[h * headSize + i] = acc;
            }
        }
        return new double[][] {out, att};
    }

    /** Row-major C = alpha op(A) op(B) + beta C, in double; {@code c} is updated in place. */
    static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff,
                     int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                }
                int ci = cOff + i * ldc + j;
                c[ci] = beta == 0 ? alpha * s : alpha * s + beta * c[ci];
            }
        }
    }

    static long argmax(double[] x) {
        int best = -1;
        for (int i = 0; i < x.length; i++) {
            if (Double.isNaN(x[i])) {
                continue;
            }
            if (best < 0 || x[i] > x[best]) {
                best = i;
            }
        }
        return best < 0 ? 0 : best;
    }
}
