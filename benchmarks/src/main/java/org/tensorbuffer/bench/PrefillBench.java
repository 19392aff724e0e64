package org.tensorbuffer.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.DecodeStats;
import org.tensorbuffer.llama.Generator;
import org.tensorbuffer.llama.PrefillMode;
import org.tensorbuffer.llama.Sampler;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.llama.Transformer;

/**
 * Warm prefill-versus-decode figures of issue 16 (not JMH: a prefill of {@code T} tokens followed by decoding is one
 * measured unit, as {@code decode --json} measures it, but repeated in one JVM after warm-up runs).
 *
 * <p>One context and model per prefill mode ({@code batched}, {@code token}); the prompt is BOS followed by
 * {@code T - 1} copies of token id 300 (any id works: the checkpoint is random). Each round runs
 * {@link Generator#generate} greedily over {@code steps} positions in each mode in turn (interleaved, so that load on
 * the machine hits both alike); the first {@code warmup} rounds are not reported. Prints each round and the medians of
 * prefill tokens/s, decode tokens/s (positions after the prompt) and their ratio.
 *
 * <p>Usage: {@code PrefillBench MODEL [promptTokens=200] [steps=256] [rounds=3] [warmup=1] [strategy=proactive]
 * [device=cpu] [modes=batched,token]} (what {@code scripts/prefill-bench.sh} runs).
 */
public final class PrefillBench {
    private PrefillBench() {
    }

    /** Runs the benchmark; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: PrefillBench MODEL [promptTokens=200] [steps=256] [rounds=3] [warmup=1]"
                    + " [strategy=proactive] [device=cpu] [modes=batched,token]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int promptTokens = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        int warmup = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        AllocationStrategy strategy = AllocationStrategy.parse(args.length > 5 ? args[5] : "proactive");
        String device = args.length > 6 ? args[6] : "cpu";
        int[] prompt = new int[promptTokens];
        Arrays.fill(prompt, 300);
        prompt[0] = Tokenizer.BOS;
        PrefillMode[] modes = Arrays.stream((args.length > 7 ? args[7] : "batched,token").split(","))
                .map(PrefillMode::parse).toArray(PrefillMode[]::new);
        System.out.printf(Locale.ROOT, "prefill-bench: %s, %s, %s, %d prompt tokens, %d steps, %s on %s%n",
                RunInfo.currentMachine(), RunInfo.currentJdk(), model.getFileName(), promptTokens, steps, strategy,
                device);
        try (Checkpoint ck = Checkpoint.open(model)) {
            TensorContext[] ctx = new TensorContext[modes.length];
            Transformer[] tf = new Transformer[modes.length];
            for (int m = 0; m < modes.length; m++) {
                ctx[m] = TensorContext.create(Devices.get(device), strategy);
                tf[m] = Transformer.load(ck, ctx[m], "bench" + m);
            }
            List<List<double[]>> results = new ArrayList<>();
            for (int m = 0; m < modes.length; m++) {
                results.add(new ArrayList<>());
            }
            int[] firstIds = null;
            for (int r = 0; r < warmup + rounds; r++) {
                for (int m = 0; m < modes.length; m++) {
                    Sampler greedy = new Sampler(ck.config().vocabSize(), 0f, 0.9f, 1L);
                    DecodeStats s = Generator.generate(tf[m], greedy, prompt, steps, null, modes[m]);
                    if (firstIds == null) {
                        firstIds = s.ids();
                    } else if (!Arrays.equals(firstIds, s.ids())) {
                        System.out.println("  note: sampled ids differ between runs/modes");
                    }
                    double pre = s.prefillTokensPerSecond();
                    double dec = s.decodeTokensPerSecond();
                    System.out.printf(Locale.ROOT, "%s round %d %-7s prefill %8.1f tok/s (%7.1f ms)  decode %7.1f tok/s"
                                    + "  prefill/decode %5.2fx%n", r < warmup ? "warm-up" : "timed  ", r,
                            modes[m].name().toLowerCase(Locale.ROOT), pre, s.prefillNanos() / 1e6, dec, pre / dec);
                    if (r >= warmup) {
                        results.get(m).add(new double[] {pre, dec, pre / dec});
                    }
                }
            }
            for (int m = 0; m < modes.length; m++) {
                List<double[]> res = results.get(m);
                System.out.printf(Locale.ROOT, "median of %d  %-7s prefill %8.1f tok/s  decode %7.1f tok/s"
                                + "  prefill/decode %5.2fx%n", res.size(), modes[m].name().toLowerCase(Locale.ROOT),
                        median(res, 0), median(res, 1), median(res, 2));
            }
            for (int m = 0; m < modes.length; m++) {
                tf[m].close();
                ctx[m].close();
            }
        }
    }

    private static double median(List<double[]> rows, int col) {
        double[] v = rows.stream().mapToDouble(r -> r[col]).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
