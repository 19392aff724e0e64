package org.tensorbuffer.report;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.llama.Config;
import org.tensorbuffer.llama.DecodeRequest;
import org.tensorbuffer.llama.DecodeRun;
import org.tensorbuffer.llama.DecodeStats;

/**
 * A strategy comparison: the same decode run under each strategy, {@code runs} times each after {@code warmup}
 * untimed rounds (JIT warm-up), strategies interleaved round by round so that drift in the machine's speed affects
 * them alike.
 *
 * @param request  the decode (its strategy is replaced by each of {@code results})
 * @param config   the model's hyperparameters
 * @param warmup   untimed rounds before the timed ones
 * @param machine  where it ran: cores, OS and architecture, JDK
 * @param results  one per strategy, in the order asked for; the first is the baseline of the ratios
 */
public record Comparison(DecodeRequest request, Config config, int warmup, String machine,
                         List<CompareResult> results) {

    /**
     * A progress event: strategy, round (0-based; negative for warm-up: -1 for the first warm-up round, -2 for the
     * second, ...), and the run's statistics.
     */
    public record Progress(AllocationStrategy strategy, int round, int rounds, DecodeStats stats) {
    }

    /**
     * Runs the comparison.
     *
     * @param progress called after every run (may be {@code null})
     * @throws IOException if the model cannot be read
     */
    public static Comparison run(DecodeRequest request, List<AllocationStrategy> strategies, int runs, int warmup,
                                 Consumer<Progress> progress) throws IOException {
        return run(request, strategies, runs, warmup, warmup, progress);
    }

    /** Warm-up rounds at least, in {@link #run(DecodeRequest, List, int, int, int, Consumer) steady} mode. */
    public static final int STEADY_MIN_WARMUP = 2;
    /** Warm-up rounds at most, in steady mode. */
    public static final int STEADY_MAX_WARMUP = 20;
    /** A warm-up round "rose" when a strategy's tokens/s beat its best earlier round by more than this fraction. */
    public static final double STEADY_GAIN = 0.03;
    /** Consecutive warm-up rounds without a rise that end a steady warm-up. */
    public static final int STEADY_PATIENCE = 2;
    /**
     * A warm-up round does not count as flat while the JIT compiled for more than this fraction of the round's wall
     * time ({@link CompilationMXBean#getTotalCompilationTime()}, summed over the compiler threads): compiler threads
     * that share the decode's CPU lower its tokens/s while they run, which can look flat for two rounds.
     */
    public static final double STEADY_JIT_SHARE = 0.05;

    /**
     * Runs the comparison after a warm-up of {@code minWarmup} to {@code maxWarmup} untimed rounds: past
     * {@code minWarmup}, warm-up rounds go on until {@value #STEADY_PATIENCE} rounds in a row in which no strategy's
     * tokens/s rose by more than {@code STEADY_GAIN} (3%) over its best earlier warm-up round (the JIT has
     * finished compiling the decode: with the compiler threads on the decode's CPU this takes several decodes of a
     * small model) and in which the JIT compiled for less than {@code STEADY_JIT_SHARE} (5%) of the round's wall time
     * (where the JVM reports compilation time), or {@code maxWarmup} rounds. {@code minWarmup == maxWarmup} runs
     * exactly that many.
     * {@link #warmup()} is the number of warm-up rounds run.
     *
     * @throws IllegalArgumentException if there is no strategy, {@code runs < 1} or the warm-up bounds are bad
     */
    public static Comparison run(DecodeRequest request, List<AllocationStrategy> strategies, int runs, int minWarmup,
                                 int maxWarmup, Consumer<Progress> progress) throws IOException {
        if (strategies.isEmpty() || runs < 1 || minWarmup < 0 || maxWarmup < minWarmup) {
            throw new IllegalArgumentException("need at least one strategy and one run, and 0 <= minWarmup <= "
                    + "maxWarmup");
        }
        Map<AllocationStrategy, List<DecodeStats>> byStrategy = new LinkedHashMap<>();
        strategies.forEach(s -> byStrategy.put(s, new ArrayList<>()));
        Map<AllocationStrategy, Double> best = new LinkedHashMap<>();
        Config config = null;
        int warmup = 0;
        int flat = 0;
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean jitTimed = jit != null && jit.isCompilationTimeMonitoringSupported();
        while (warmup < maxWarmup && (warmup < minWarmup || flat < STEADY_PATIENCE)) {
            boolean rose = false;
            long jitBefore = jitTimed ? jit.getTotalCompilationTime() : 0;
            long roundStart = System.nanoTime();
            for (AllocationStrategy s : strategies) {
                DecodeStats st = DecodeRun.run(request.withStrategy(s), null).stats();
                config = st.config();
                double tps = st.tokensPerSecond();
                Double b = best.get(s);
                if (b == null || tps > b * (1 + STEADY_GAIN)) {
                    rose = true;
                }
                best.merge(s, tps, Math::max);
                if (progress != null) {
                    progress.accept(new Progress(s, -1 - warmup, runs, st));
                }
            }
            warmup++;
            double roundMs = (System.nanoTime() - roundStart) / 1e6;
            boolean compiling = jitTimed && jit.getTotalCompilationTime() - jitBefore > STEADY_JIT_SHARE * roundMs;
            flat = rose || compiling ? 0 : flat + 1;
        }
        for (int round = 0; round < runs; round++) {
            for (AllocationStrategy s : strategies) {
                DecodeStats st = DecodeRun.run(request.withStrategy(s), null).stats();
                config = st.config();
                byStrategy.get(s).add(st);
                if (progress != null) {
                    progress.accept(new Progress(s, round, runs, st));
                }
            }
        }
        List<CompareResult> results = new ArrayList<>();
        byStrategy.forEach((s, l) -> results.add(new CompareResult(s, List.copyOf(l))));
        return new Comparison(request, config, warmup, currentMachine(), List.copyOf(results));
    }

    /** The baseline of the ratios: the first strategy (NONE by default). */
    public CompareResult baseline() {
        return results.getFirst();
    }

    /** Whether every run of every strategy produced the same token ids. */
    public boolean idsIdentical() {
        int[] ids = baseline().ids();
        return results.stream().allMatch(r -> r.idsConsistent() && Arrays.equals(r.ids(), ids));
    }

    /** E.g. {@code 2-core x86_64 Linux, JDK 25.0.1}. */
    static String currentMachine() {
        return Runtime.getRuntime().availableProcessors() + "-core " + System.getProperty("os.arch") + " "
                + System.getProperty("os.name") + ", JDK " + System.getProperty("java.version");
    }
}
