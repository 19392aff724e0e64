package org.tensorbuffer.cpu;

import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * Prints GEMM timings of the three CPU paths (plain small loop, Java Vector API, OpenBLAS) for square sizes. Not a
 * unit test; run with
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ... org.tensorbuffer.cpu.GemmTiming [sizes...]}.
 */
public final class GemmTiming {
    private GemmTiming() {
    }

    public static void main(String[] args) {
        int[] sizes = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[] {2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 512, 1024};
        OpenBlas blas = OpenBlas.load().orElse(null);
        CpuKernels auto = new CpuKernels(Gemm.of(Gemm.Mode.AUTO));
        System.out.printf("%-7s %5s %16s %16s %16s %16s   (GFLOP/s in brackets; kernels.gemm = the dispatching"
                + " Kernels call, %s)%n", "dtype", "n", "small-loop", "java-vector", "openblas", "kernels.gemm",
                auto.gemmDescription());
        try (CpuDevice dev = new CpuDevice()) {
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                for (int n : sizes) {
                    int es = t.byteSize();
                    DeviceBuffer a = dev.allocate((long) n * n * es, 64);
                    DeviceBuffer b = dev.allocate((long) n * n * es, 64);
                    DeviceBuffer c = dev.allocate((long) n * n * es, 64);
                    dev.fill(a, 0, (long) n * n, t, 0.5);
                    dev.fill(b, 0, (long) n * n, t, 0.25);
                    boolean f64 = t == DType.F64;
                    String small = n <= 64 ? fmt(time(() -> {
                        if (f64) {
                            SmallGemmF64.gemm(false, false, n, n, n, 1, a.address(), n, b.address(), n, 0,
                                    c.address(), n);
                        } else {
                            SmallGemmF32.gemm(false, false, n, n, n, 1, a.address(), n, b.address(), n, 0,
                                    c.address(), n);
                        }
                    }), n) : "-";
                    String java = fmt(time(() -> JavaGemm.gemm(f64, false, false, n, n, n, 1, a.address(), n,
                            b.address(), n, 0, c.address(), n)), n);
                    String ob = blas == null ? "absent" : fmt(time(() -> blas.gemm(f64, false, false, n, n, n, 1,
                            a.address(), n, b.address(), n, 0, c.address(), n)), n);
                    String disp = fmt(time(() -> auto.gemm(t, false, false, n, n, n, 1, a, 0, n, b, 0, n, 0, c, 0,
                            n)), n);
                    System.out.printf("%-7s %5d %16s %16s %16s %16s%n", t, n, small, java, ob, disp);
                    dev.free(a);
                    dev.free(b);
                    dev.free(c);
                }
            }
        }
    }

    private static String fmt(double ns, int n) {
        double gflops = 2.0 * n * n * n / ns;
        String time = ns < 1e4 ? String.format("%.0fns", ns) : ns < 1e7 ? String.format("%.1fus", ns / 1e3)
                : String.format("%.1fms", ns / 1e6);
        return time + String.format(" [%.1f]", gflops);
    }

    /**
     * Warms up for 0.5 s (so that the JIT has compiled every path), then the fastest of 60 rounds of about 2 ms each:
     * the minimum filters out rounds in which a busy machine preempted the thread.
     */
    private static double time(Runnable r) {
        return best(500_000_000L, 60, r);
    }

    /**
     * Runs {@code r} for {@code warmNanos}, then returns the fastest of {@code rounds} rounds of about 2 ms each, in
     * nanoseconds per call (also used by {@link BatchedGemmTiming}).
     */
    static double best(long warmNanos, int rounds, Runnable r) {
        long warmEnd = System.nanoTime() + warmNanos;
        long calls = 0;
        long t0 = System.nanoTime();
        while (System.nanoTime() < warmEnd) {
            r.run();
            calls++;
        }
        double perCall = (System.nanoTime() - t0) / (double) calls;
        long reps = Math.max(1, (long) (2e6 / perCall));
        double best = Double.MAX_VALUE;
        for (int round = 0; round < rounds; round++) {
            long s = System.nanoTime();
            for (long i = 0; i < reps; i++) {
                r.run();
            }
            best = Math.min(best, (System.nanoTime() - s) / (double) reps);
        }
        return best;
    }
}
