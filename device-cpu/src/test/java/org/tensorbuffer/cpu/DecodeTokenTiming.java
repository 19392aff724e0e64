package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Prints where a decode token's time goes when only the kernels run: llama2.c's step (per layer RMSNorm, the q/k/v
 * GEMVs, RoPE, the cache row copies, attention, wo, the residual add, RMSNorm, w1/w3, SiLU and the product, w2, the
 * add; then RMSNorm and the classifier) called straight on {@link CpuKernels} with random weights of the stories15M
 * or GQA 38M shape, one buffer per weight as the model has, no tensors, no allocator. Per op class: microseconds per
 * token (median over the timed decodes), the token's total, and the team calls per token. With a third argument
 * {@code fused}, each layer's q/k/v weights are one {@code [dim + 2 kvDim, dim]} matrix and w1/w3 one
 * {@code [2 hidden, dim]} matrix, each applied as one GEMV (one team call) as the workloads' {@code Transformer} does
 * (the per-op times then show the fused GEMV under "wq" and "w1"); without it the same memory is applied as three
 * and two GEMVs. With {@code ab}, the decodes alternate between the two (unfused first), in one process, and the
 * token's median is printed for each. A second part times a plain
 * memory read (the sum of 64 MiB) on one thread and split over two through a {@link KernelTeam}, for whether two
 * cores share the memory bandwidth. Not a unit test; run with {@code TENSORBUFFER_CPU_THREADS=t
 * OPENBLAS_NUM_THREADS=t java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ...
 * org.tensorbuffer.cpu.DecodeTokenTiming stories15M|gqa38M|stories260K [decodes] [fused|ab]} (stories260K: the bundled
 * model's shape, dim 64, hidden 172, 5 layers, 8 heads over 4 key/value heads, vocabulary 512, 512 positions).
 */
public final class DecodeTokenTiming {
    private static final String[] OPS = {"rmsnorm", "wq", "wk", "wv", "rope", "cache", "attention", "wo", "add",
        "w1", "w3", "silu*mul", "w2", "classifier"};

    private DecodeTokenTiming() {
    }

    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "stories15M";
        int decodes = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        boolean ab = args.length > 2 && args[2].equals("ab");
        boolean fusedArg = args.length > 2 && args[2].equals("fused");
        boolean gqa = shape.equals("gqa38M");
        boolean tiny = shape.equals("stories260K");
        int dim = tiny ? 64 : gqa ? 512 : 288;
        int hidden = tiny ? 172 : gqa ? 1376 : 768;
        int layers = tiny ? 5 : gqa ? 8 : 6;
        int heads = tiny ? 8 : gqa ? 8 : 6;
        int kvHeads = tiny ? 4 : gqa ? 2 : 6;
        int vocab = tiny ? 512 : 32000;
        int steps = tiny ? 512 : gqa ? 128 : 256;
        int hs = dim / heads;
        int kvDim = kvHeads * hs;
        CpuKernels kern = new CpuKernels();
        CpuDevice dev = new CpuDevice();
        SplittableRandom rnd = new SplittableRandom(7);
        DeviceBuffer[] wqkv = new DeviceBuffer[layers];
        DeviceBuffer[] wo = new DeviceBuffer[layers];
        DeviceBuffer[] w1 = new DeviceBuffer[layers];
        DeviceBuffer[] w2 = new DeviceBuffer[layers];
        DeviceBuffer[] rms = new DeviceBuffer[layers];
        DeviceBuffer[] kc = new DeviceBuffer[layers];
        DeviceBuffer[] vc = new DeviceBuffer[layers];
        for (int l = 0; l < layers; l++) {
            rms[l] = filled(dev, dim, rnd, 1f);
            wqkv[l] = filled(dev, (long) (dim + 2 * kvDim) * dim, rnd, 0.05f);
            wo[l] = filled(dev, (long) dim * dim, rnd, 0.05f);
            w1[l] = filled(dev, 2L * hidden * dim, rnd, 0.05f); // w1 rows, then w3 rows
            w2[l] = filled(dev, (long) dim * hidden, rnd, 0.05f);
            kc[l] = filled(dev, (long) steps * kvDim, rnd, 0f);
            vc[l] = filled(dev, (long) steps * kvDim, rnd, 0f);
        }
        DeviceBuffer cls = filled(dev, (long) vocab * dim, rnd, 0.05f);
        DeviceBuffer x = filled(dev, dim, rnd, 1f);
        DeviceBuffer xb = filled(dev, dim, rnd, 0f);
        DeviceBuffer qkv = filled(dev, dim + 2L * kvDim, rnd, 0f);
        long kOff = dim * 4L;
        long vOff = (dim + kvDim) * 4L;
        DeviceBuffer att = filled(dev, (long) heads * steps, rnd, 0f);
        DeviceBuffer ao = filled(dev, dim, rnd, 0f);
        DeviceBuffer o = filled(dev, dim, rnd, 0f);
        DeviceBuffer h13 = filled(dev, 2L * hidden, rnd, 0f);
        long h3Off = hidden * 4L;
        long w3Off = (long) hidden * dim * 4;
        DeviceBuffer logits = filled(dev, vocab, rnd, 0f);
        DType f = DType.F32;
        long[][] perDecode = new long[decodes][OPS.length];
        double[] tokUs = new double[decodes];
        int warm = Math.max(3, decodes / 2);
        double[][] abUs = new double[2][(decodes + 1) / 2];
        for (int d = -warm; d < decodes; d++) {
            boolean fused = ab ? (d & 1) == 1 : fusedArg;
            long[] acc = new long[OPS.length];
            long start = System.nanoTime();
            for (int pos = 0; pos < steps; pos++) {
                long t = System.nanoTime();
                for (int l = 0; l < layers; l++) {
                    kern.rmsnorm(f, x, 0, rms[l], 0, xb, 0, 1, dim, 1e-5);
                    t = lap(acc, 0, t);
                    if (fused) {
                        kern.gemm(f, false, false, dim + 2 * kvDim, 1, dim, 1, wqkv[l], 0, dim, xb, 0, 1, 0, qkv, 0,
                                1);
                        t = lap(acc, 1, t);
                    } else {
                        kern.gemm(f, false, false, dim, 1, dim, 1, wqkv[l], 0, dim, xb, 0, 1, 0, qkv, 0, 1);
                        t = lap(acc, 1, t);
                        kern.gemm(f, false, false, kvDim, 1, dim, 1, wqkv[l], kOff * dim, dim, xb, 0, 1, 0, qkv, kOff,
                                1);
                        t = lap(acc, 2, t);
                        kern.gemm(f, false, false, kvDim, 1, dim, 1, wqkv[l], vOff * dim, dim, xb, 0, 1, 0, qkv, vOff,
                                1);
                        t = lap(acc, 3, t);
                    }
                    kern.rope(f, qkv, 0, qkv, 0, dim, hs, pos);
                    kern.rope(f, qkv, kOff, qkv, kOff, kvDim, hs, pos);
                    t = lap(acc, 4, t);
                    dev.copy(qkv, kOff, kc[l], (long) pos * kvDim * 4, kvDim * 4L);
                    dev.copy(qkv, vOff, vc[l], (long) pos * kvDim * 4, kvDim * 4L);
                    t = lap(acc, 5, t);
                    kern.attention(f, qkv, 0, kc[l], 0, vc[l], 0, att, 0, steps, ao, 0, heads, kvHeads, hs, pos);
                    t = lap(acc, 6, t);
                    kern.gemm(f, false, false, dim, 1, dim, 1, wo[l], 0, dim, ao, 0, 1, 0, o, 0, 1);
                    t = lap(acc, 7, t);
                    kern.binary(BinaryOp.ADD, f, x, 0, o, 0, x, 0, dim);
                    kern.rmsnorm(f, x, 0, rms[l], 0, xb, 0, 1, dim, 1e-5);
                    t = lap(acc, 8, t);
                    if (fused) {
                        kern.gemm(f, false, false, 2 * hidden, 1, dim, 1, w1[l], 0, dim, xb, 0, 1, 0, h13, 0, 1);
                        t = lap(acc, 9, t);
                    } else {
                        kern.gemm(f, false, false, hidden, 1, dim, 1, w1[l], 0, dim, xb, 0, 1, 0, h13, 0, 1);
                        t = lap(acc, 9, t);
                        kern.gemm(f, false, false, hidden, 1, dim, 1, w1[l], w3Off, dim, xb, 0, 1, 0, h13, h3Off, 1);
                        t = lap(acc, 10, t);
                    }
                    kern.silu(f, h13, 0, h13, 0, hidden);
                    kern.binary(BinaryOp.MUL, f, h13, 0, h13, h3Off, h13, 0, hidden);
                    t = lap(acc, 11, t);
                    kern.gemm(f, false, false, dim, 1, hidden, 1, w2[l], 0, hidden, h13, 0, 1, 0, o, 0, 1);
                    t = lap(acc, 12, t);
                    kern.binary(BinaryOp.ADD, f, x, 0, o, 0, x, 0, dim);
                    t = lap(acc, 8, t);
                }
                kern.rmsnorm(f, x, 0, rms[0], 0, xb, 0, 1, dim, 1e-5);
                t = lap(acc, 0, t);
                kern.gemm(f, false, false, vocab, 1, dim, 1, cls, 0, dim, xb, 0, 1, 0, logits, 0, 1);
                lap(acc, 13, t);
                // keep x bounded
                kern.rmsnorm(f, x, 0, rms[0], 0, x, 0, 1, dim, 1e-5);
            }
            long el = System.nanoTime() - start;
            if (d >= 0) {
                perDecode[d] = acc;
                tokUs[d] = el / 1e3 / steps;
                abUs[d & 1][d / 2] = tokUs[d];
            }
        }
        Map<String, Double> med = new LinkedHashMap<>();
        double sum = 0;
        for (int i = 0; i < OPS.length; i++) {
            double[] v2 = new double[decodes];
            for (int d = 0; d < decodes; d++) {
                v2[d] = perDecode[d][i] / 1e3 / steps;
            }
            Arrays.sort(v2);
            med.put(OPS[i], v2[decodes / 2]);
            sum += v2[decodes / 2];
        }
        Arrays.sort(tokUs);
        System.out.printf("%s%s, kernel threads %d, OpenBLAS threads %s, %d decodes of %d positions: us per token%n",
                shape, ab ? " (decodes alternate unfused/fused)" : fusedArg ? " (fused q/k/v and w1/w3)" : "", kern.threads(), System.getenv("OPENBLAS_NUM_THREADS"),
                decodes, steps);
        med.forEach((n, us) -> System.out.printf("  %-11s %8.1f%n", n, us));
        System.out.printf("  %-11s %8.1f (sum of ops), token %.1f us median (%.1f-%.1f) = %.0f tok/s%n", "total", sum,
                tokUs[decodes / 2], tokUs[0], tokUs[decodes - 1], 1e6 / tokUs[decodes / 2]);
        if (ab) {
            for (int m = 0; m < 2; m++) {
                double[] u = Arrays.copyOf(abUs[m], m == 0 ? (decodes + 1) / 2 : decodes / 2);
                Arrays.sort(u);
                System.out.printf("  %-11s token %.1f us median (%.1f-%.1f) of %d decodes = %.0f tok/s%n",
                        m == 0 ? "unfused" : "fused", u[u.length / 2], u[0], u[u.length - 1], u.length,
                        1e6 / u[u.length / 2]);
            }
        }
        stream(kern.threads());
        dev.close();
    }

    private static long lap(long[] acc, int op, long t) {
        long n = System.nanoTime();
        acc[op] += n - t;
        return n;
    }

    /** With {@code -Dslab=true}: every buffer a 64-byte aligned slice of one block (huge pages where advised). */
    private static final boolean SLAB = Boolean.getBoolean("slab");
    private static DeviceBuffer slab;
    private static long slabUsed;

    private static DeviceBuffer filled(CpuDevice dev, long n, SplittableRandom rnd, float scale) {
        DeviceBuffer b;
        if (SLAB) {
            if (slab == null) {
                slab = dev.allocate(512L << 20, 2L << 20);
            }
            b = slab.slice(slabUsed, n * 4);
            slabUsed += (n * 4 + 63) & -64;
        } else {
            b = dev.allocate(n * 4, 64);
        }
        long a = b.address();
        for (long i = 0; i < n; i++) {
            ALL.set(ValueLayout.JAVA_FLOAT_UNALIGNED, a + 4 * i, scale == 1f ? 1f : (float) (rnd.nextDouble() - 0.5)
                    * scale);
        }
        return b;
    }

    /** Sum of a 64 MiB float array read once per round, on one thread and split in two halves over a team. */
    private static void stream(int threads) {
        long n = 16L << 20;
        long a = NativeMemory.allocate(n * 4, 64);
        for (long i = 0; i < n; i++) {
            ALL.set(ValueLayout.JAVA_FLOAT_UNALIGNED, a + 4 * i, 1f);
        }
        KernelTeam team = new KernelTeam(2, KernelTeam.spinMicrosFromSystemProperty());
        double[] one = new double[9];
        double[] two = new double[9];
        float[] sink = new float[2];
        for (int r = 0; r < 9; r++) {
            long t0 = System.nanoTime();
            sink[0] += VectorLoopsF32.sum(a, n);
            long t1 = System.nanoTime();
            team.run(2, p -> sink[p] += VectorLoopsF32.sum(a + p * n * 2, n / 2));
            long t2 = System.nanoTime();
            one[r] = n * 4 / 1e9 / ((t1 - t0) / 1e9);
            two[r] = n * 4 / 1e9 / ((t2 - t1) / 1e9);
        }
        Arrays.sort(one);
        Arrays.sort(two);
        System.out.printf("  memory read of 64 MiB: 1 thread %.1f GB/s, 2 threads %.1f GB/s (%.2fx), median of 9%s%n",
                one[4], two[4], two[4] / one[4], sink[0] + sink[1] == 0 ? "" : "");
        NativeMemory.free(a);
    }
}
