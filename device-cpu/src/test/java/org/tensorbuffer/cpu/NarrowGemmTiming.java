package org.tensorbuffer.cpu;

import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Prints the time of a sequence of float64 products {@code m,n,k,tA,tB} (each with its own A, as in a matrix chain
 * contracted one matrix at a time) through OpenBLAS ({@code cblas_dgemm}) and through {@link NarrowGemm}, per product
 * and in total. Not a unit test (it is how {@link NarrowGemm}'s use with OpenBLAS present was decided); run with
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ...
 * org.tensorbuffer.cpu.NarrowGemmTiming 480,21,272,1,1 404,21,480,1,0 ...}.
 */
public final class NarrowGemmTiming {
    private NarrowGemmTiming() {
    }

    public static void main(String[] args) {
        OpenBlas blas = OpenBlas.load().orElseThrow();
        int count = args.length;
        int[][] s = new int[count][];
        for (int i = 0; i < count; i++) {
            s[i] = java.util.Arrays.stream(args[i].split(",")).mapToInt(Integer::parseInt).toArray();
        }
        try (CpuDevice dev = new CpuDevice()) {
            DeviceBuffer[] a = new DeviceBuffer[count];
            DeviceBuffer[] b = new DeviceBuffer[count];
            DeviceBuffer[] c = new DeviceBuffer[count];
            for (int i = 0; i < count; i++) {
                int m = s[i][0], n = s[i][1], k = s[i][2];
                a[i] = dev.allocate((long) m * k * 8, 64);
                b[i] = dev.allocate((long) k * n * 8, 64);
                c[i] = dev.allocate((long) m * n * 8, 64);
                dev.fill(a[i], 0, (long) m * k, DType.F64, 0.5);
                dev.fill(b[i], 0, (long) k * n, DType.F64, 0.25);
            }
            Runnable obAll = () -> {
                for (int i = 0; i < count; i++) {
                    run(blas, true, s[i], a[i], b[i], c[i]);
                }
            };
            Runnable nwAll = () -> {
                for (int i = 0; i < count; i++) {
                    run(blas, false, s[i], a[i], b[i], c[i]);
                }
            };
            double flops = 0;
            for (int[] x : s) {
                flops += 2.0 * x[0] * x[1] * x[2];
            }
            for (int round = 0; round < 3; round++) {
                double ob = GemmTiming.best(300_000_000L, 20, obAll);
                double nw = GemmTiming.best(300_000_000L, 20, nwAll);
                System.out.printf("all %d products: openblas %.1f us [%.1f GFLOP/s], narrow %.1f us [%.1f GFLOP/s]%n",
                        count, ob / 1e3, flops / ob, nw / 1e3, flops / nw);
            }
            if (Boolean.getBoolean("each")) {
                for (int i = 0; i < count; i++) {
                    int fi = i;
                    double f = 2.0 * s[i][0] * s[i][1] * s[i][2];
                    double ob = GemmTiming.best(50_000_000L, 20, () -> run(blas, true, s[fi], a[fi], b[fi], c[fi]));
                    double nw = GemmTiming.best(50_000_000L, 20, () -> run(blas, false, s[fi], a[fi], b[fi], c[fi]));
                    System.out.printf("%-18s openblas %8.2f us [%5.1f]  narrow %8.2f us [%5.1f]%n", String.join(",",
                            java.util.Arrays.stream(s[i]).mapToObj(String::valueOf).toArray(String[]::new)),
                            ob / 1e3, f / ob, nw / 1e3, f / nw);
                }
            }
        }
    }

    private static void run(OpenBlas blas, boolean useBlas, int[] x, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        int m = x[0], n = x[1], k = x[2];
        boolean tA = x[3] == 1, tB = x[4] == 1;
        int lda = tA ? m : k;
        int ldb = tB ? k : n;
        if (useBlas) {
            blas.gemm(true, tA, tB, m, n, k, 1, a.address(), lda, b.address(), ldb, 0, c.address(), n);
        } else {
            NarrowGemm.gemm(true, tA, tB, m, n, k, 1, a.address(), lda, b.address(), ldb, 0, c.address(), n);
        }
    }
}
