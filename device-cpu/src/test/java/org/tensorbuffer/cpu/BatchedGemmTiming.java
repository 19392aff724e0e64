package org.tensorbuffer.cpu;

import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.types.DType;

/**
 * Prints the time of a batch of small GEMMs, {@code batch x (m, n, k)}, through OpenBLAS (one {@code cblas_?gemm} per
 * matrix), through {@link SmallVectorGemm}'s Vector API kernel, through the blocked {@link JavaGemm}, and through the dispatching
 * {@link CpuKernels#gemmStridedBatched} call, for the shapes {@code batch,m,n,k[,tA,tB]} given (F64 unless the argument
 * starts with {@code f32:}). Not a unit test (it is how {@link SmallVectorGemm#MAX_WORK} was chosen); run with
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ...
 * org.tensorbuffer.cpu.BatchedGemmTiming 32,64,64,64 ...}.
 */
public final class BatchedGemmTiming {
    private BatchedGemmTiming() {
    }

    public static void main(String[] args) {
        OpenBlas blas = OpenBlas.load().orElseThrow();
        CpuKernels auto = new CpuKernels(Gemm.of(Gemm.Mode.AUTO), 1);
        System.out.printf("%-8s %-22s %18s %18s %18s %18s  (best us per batch [GFLOP/s])%n", "dtype",
                "batch x m,n,k tA tB", "openblas", "small-vector", "java-blocked", "kernels.gemm");
        try (CpuDevice dev = new CpuDevice()) {
            for (String arg : args) {
                DType t = arg.startsWith("f32:") ? DType.F32 : DType.F64;
                String[] p = arg.replace("f32:", "").split(",");
                int batch = Integer.parseInt(p[0]);
                int m = Integer.parseInt(p[1]);
                int n = Integer.parseInt(p[2]);
                int k = Integer.parseInt(p[3]);
                boolean tA = p.length > 4 && p[4].equals("1");
                boolean tB = p.length > 5 && p[5].equals("1");
                int es = t.byteSize();
                boolean f64 = t == DType.F64;
                DeviceBuffer a = dev.allocate((long) batch * m * k * es, 64);
                DeviceBuffer b = dev.allocate((long) batch * k * n * es, 64);
                DeviceBuffer c = dev.allocate((long) batch * m * n * es, 64);
                dev.fill(a, 0, (long) batch * m * k, t, 0.5);
                dev.fill(b, 0, (long) batch * k * n, t, 0.25);
                int lda = tA ? m : k;
                int ldb = tB ? k : n;
                long sa = (long) m * k * es;
                long sb = (long) k * n * es;
                long sc = (long) m * n * es;
                double ob = time(() -> {
                    for (int i = 0; i < batch; i++) {
                        blas.gemm(f64, tA, tB, m, n, k, 1, a.address() + i * sa, lda, b.address() + i * sb, ldb, 0,
                                c.address() + i * sc, n);
                    }
                });
                double sv = time(() -> {
                    for (int i = 0; i < batch; i++) {
                        SmallVectorGemm.gemm(f64, tA, tB, m, n, k, 1, a.address() + i * sa, lda,
                                b.address() + i * sb, ldb, 0, c.address() + i * sc, n);
                    }
                });
                double jb = time(() -> {
                    for (int i = 0; i < batch; i++) {
                        JavaGemm.gemm(f64, tA, tB, m, n, k, 1, a.address() + i * sa, lda, b.address() + i * sb, ldb,
                                0, c.address() + i * sc, n);
                    }
                });
                double disp = time(() -> auto.gemmStridedBatched(t, tA, tB, m, n, k, 1, a, 0, lda, (long) m * k, b,
                        0, ldb, (long) k * n, 0, c, 0, n, (long) m * n, batch));
                double flops = 2.0 * batch * m * n * k;
                System.out.printf("%-8s %-22s %18s %18s %18s %18s%n", t, batch + "x" + m + "," + n + "," + k + " "
                        + (tA ? "T" : "N") + (tB ? "T" : "N"), fmt(ob, flops), fmt(sv, flops), fmt(jb, flops),
                        fmt(disp, flops));
                dev.free(a);
                dev.free(b);
                dev.free(c);
            }
        }
    }

    private static String fmt(double ns, double flops) {
        return String.format("%.2f [%.1f]", ns / 1e3, flops / ns);
    }

    /** Warms up for 0.4 s, then the fastest of 40 rounds of about 2 ms each. */
    private static double time(Runnable r) {
        return GemmTiming.best(400_000_000L, 40, r);
    }
}
