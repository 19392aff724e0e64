package org.tensorbuffer;

import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Prints the cost of a tensor's life (create over a pool hit, close) per leak-detection level, with and without an
 * enclosing {@link MemoryScope}: what the lifetime hooks add on top of the pool's hit path. Not a test; run with
 * {@code java -cp core/target/classes:core/target/test-classes:<slf4j-api> org.tensorbuffer.TensorLifecycleTiming}.
 * Best of 5 rounds of 2 million tensors each (40 000 for PARANOID).
 */
public final class TensorLifecycleTiming {
    private TensorLifecycleTiming() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        try (TensorContext ctx = TensorContext.create(new TestDevice("timing"), AllocationStrategy.REACTIVE)) {
            Shape shape = Shape.of(16);
            for (int i = 0; i < n; i++) { // warm-up (JIT)
                ctx.empty(shape, DType.F32).close();
            }
            for (LeakDetector.Level level : LeakDetector.Level.values()) {
                LeakDetector.level(level);
                int count = level == LeakDetector.Level.PARANOID ? n / 50 : n;
                for (boolean scoped : new boolean[] {false, true}) {
                    double best = Double.MAX_VALUE;
                    for (int round = 0; round < 5; round++) {
                        long t0 = System.nanoTime();
                        if (scoped) {
                            try (MemoryScope s = MemoryScope.open()) {
                                for (int i = 0; i < count; i++) {
                                    ctx.empty(shape, DType.F32).close();
                                }
                            }
                        } else {
                            for (int i = 0; i < count; i++) {
                                ctx.empty(shape, DType.F32).close();
                            }
                        }
                        best = Math.min(best, (System.nanoTime() - t0) / (double) count);
                    }
                    System.out.printf("level %-8s %-9s %7.1f ns per tensor (create + close)%n", level,
                            scoped ? "in scope" : "no scope", best);
                }
            }
        }
    }
}
