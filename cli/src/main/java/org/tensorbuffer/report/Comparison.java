package org.tensorbuffer.report;

import java.io.IOException;
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

    /** A progress event: strategy, round (0-based; negative for warm-up), and the run's statistics. */
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
        if (strategies.isEmpty() || runs < 1 || warmup < 0) {
            throw new IllegalArgumentException("need at least one strategy and one run, and warmup >= 0");
        }
        Map<AllocationStrategy, List<DecodeStats>> byStrategy = new LinkedHashMap<>();
        strategies.forEach(s -> byStrategy.put(s, new ArrayList<>()));
        Config config = null;
        for (int round = -warmup; round < runs; round++) {
            for (AllocationStrategy s : strategies) {
                DecodeStats st = DecodeRun.run(request.withStrategy(s), null).stats();
                config = st.config();
                if (round >= 0) {
                    byStrategy.get(s).add(st);
                }
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
