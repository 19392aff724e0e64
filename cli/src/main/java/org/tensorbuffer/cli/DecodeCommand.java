package org.tensorbuffer.cli;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.device.DeviceUnavailableException;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.Config;
import org.tensorbuffer.llama.DecodeRequest;
import org.tensorbuffer.llama.DecodeRun;
import org.tensorbuffer.llama.PrefillMode;
import org.tensorbuffer.llama.DecodeStats;
import org.tensorbuffer.llama.Generator;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.memory.PoolOutOfMemoryException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tensorbuffer decode}: text generation with a llama2.c checkpoint, token for token as llama2.c's
 * {@code run.c}, under a chosen allocation strategy, with the allocation statistics.
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate text with a llama2.c checkpoint (run.c's token ids for the same options) and report "
                + "allocation statistics.",
            "Example: ./tensorbuffer decode --model models/aidreams260K.bin --tokenizer models/aidreams-tok512.bin "
                + "--prompt \"Once upon a time\" --temperature 0 --steps 128"})
final class DecodeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH", converter = InputFile.class,
            description = "llama2.c checkpoint (legacy .bin: 7 int32 header fields, float32 weights).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", converter = InputFile.class,
            description = "llama2.c tokenizer (tok*.bin) with the model's vocab_size tokens. Default: tok<V>.bin or "
                    + "<name>-tok<V>.bin next to the model; without one only ids are printed and --prompt must be "
                    + "empty.")
    Path tokenizer;

    @Option(names = "--prompt", paramLabel = "TEXT", defaultValue = "",
            description = "Text to start from (default: none, start from BOS).")
    String prompt;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "256",
            description = "Positions to run as run.c's -n: the prompt (from BOS) included; stops early when BOS is "
                    + "sampled; 0 means seq_len; more than seq_len is an error (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0",
            description = "Sampling temperature; 0 is greedy argmax (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--topp", paramLabel = "P", defaultValue = "0.9",
            description = "Top-p (nucleus) threshold; <= 0 or >= 1 samples from the whole distribution "
                    + "(default: ${DEFAULT-VALUE}).")
    float topp;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed of run.c's xorshift generator, so that run.c -s S makes the same choices "
                    + "(default: the current time in seconds, as run.c).")
    Long seed;

    @Mixin
    DeviceOption deviceOption;

    @Mixin
    StrategyOption strategyOption; // proactive: every buffer of a step reserved before the first token

    @Option(names = "--prefill", paramLabel = "MODE", defaultValue = "batched",
            description = "How the prompt runs: batched (all prompt tokens through each layer at once as [T, dim] "
                    + "matrices) or token (one position at a time, as run.c) (default: ${DEFAULT-VALUE}).")
    String prefill;

    @Option(names = "--print-ids",
            description = "Print the ids of the sampled tokens (those after the prompt, as a run.c that printed ids "
                    + "would) on one line, space-separated, instead of text.")
    boolean printIds;

    /**
     * {@code --json}: only one JSON object at the end: model dims, device, strategy, tokens, tokens_per_s,
     * raw_allocs_total, raw_allocs_per_token_steady, pool and TensorBuffer hit rates, peak live and reserved bytes,
     * prefill and decode tokens/s and device allocations per phase, and the ids (and text with a tokenizer).
     */
    @Mixin
    JsonOption jsonOption;

    @Mixin
    MemoryTimelineOption timelineOption;

    @Mixin
    MemorySnapshotOptions memoryOptions;

    @Mixin
    ReservationPlanOptions planOptions;


    @Override
    public Integer call() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        boolean json = jsonOption.json;
        Path memoryTimeline = timelineOption.memoryTimeline;
        String device = deviceOption.device;
        try {
            AllocationStrategy s = strategyOption.or(AllocationStrategy.PROACTIVE);
            PrefillMode prefillMode = PrefillMode.parse(prefill);
            org.tensorbuffer.memory.ReservationPlan loadedPlan = planOptions.load(s);
            Config config;
            try (Checkpoint ck = Checkpoint.open(model)) {
                config = ck.config();
            }
            Path tok = tokenizer != null ? tokenizer : ModelFiles.findTokenizer(model, config.vocabSize());
            boolean ids = printIds || tok == null;
            if (tok == null && !printIds && !json) {
                err.println("tensorbuffer decode: no tokenizer for " + model + " (--tokenizer); printing token ids");
            }
            long sd = seed != null ? seed : System.currentTimeMillis() / 1000;
            DecodeRequest req = new DecodeRequest(model, tok, prompt, steps, temperature, topp, sd, device, s);
            // Streams the output as run.c does: text pieces (or ids) as they are produced; --json prints at the end.
            Tokenizer text = tok != null && !ids && !json ? Tokenizer.load(tok, config.vocabSize()) : null;
            Progress progress = new Progress(err, json || ids);
            int total = steps == 0 ? config.seqLen() : steps;
            boolean[] first = {true};
            org.tensorbuffer.memory.ReservationPlan[] reservedPlan = {null};
            Generator.Listener listener = (pos, prev, next, sampled) -> {
                if (text != null) {
                    byte[] piece = text.decode(prev, next);
                    out.write(piece, 0, piece.length);
                    out.flush();
                } else if (ids && sampled && !json) {
                    out.print(first[0] ? Integer.toString(next) : " " + next);
                    first[0] = false;
                }
                progress.update(pos, total);
            };
            DecodeRun.Result r = DecodeRun.run(req, listener, memoryOptions.recording(memoryTimeline,
                    "decode " + model.getFileName() + " (" + s.name().toLowerCase(java.util.Locale.ROOT) + ", " + device + ")", spec),
                    prefillMode, loadedPlan, p -> reservedPlan[0] = p);
            progress.done();
            DecodeStats st = r.stats();
            if (json) {
                Map<String, Object> m = json(st, model, sd, req);
                if (r.tokenizer() != null) {
                    m.put("text", r.tokenizer().decodeAll(r.promptTokens()[0], allTokens(r)));
                }
                out.println(new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(m));
            } else {
                out.println();
                err.printf("achieved tok/s: %.1f (%d positions, strategy %s, %.2f device allocations per token "
                                + "after the first)%n", st.tokensPerSecond(), st.tokens(),
                        st.strategy().name().toLowerCase(Locale.ROOT), st.rawAllocsPerTokenSteady());
            }
            planOptions.save(reservedPlan[0], err, json);
            if (memoryTimeline != null && !json) {
                err.println("memory timeline written to " + memoryTimeline);
            }
            if (memoryOptions.memorySnapshot != null && !json) {
                err.println("memory snapshot written to " + memoryOptions.memorySnapshot);
            }
            out.flush();
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException
                 | DeviceUnavailableException | PoolOutOfMemoryException | IOException e) {
            return CliErrors.report(spec.commandLine(), e);
        }
    }

    /** The prompt tokens after BOS followed by the sampled ones: what run.c prints, as ids. */
    private static int[] allTokens(DecodeRun.Result r) {
        int[] p = r.promptTokens();
        int[] s = r.stats().ids();
        int shown = Math.min(p.length - 1, r.stats().tokens());
        int[] all = new int[shown + s.length];
        System.arraycopy(p, 1, all, 0, shown);
        System.arraycopy(s, 0, all, shown, s.length);
        return all;
    }

    static String message(Exception e) {
        if (e instanceof java.nio.file.NoSuchFileException nf) {
            return "file not found: " + nf.getFile() + (nf.getReason() != null ? " (" + nf.getReason() + ")" : "");
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /** The JSON object of {@code --json} (also used by {@code compare --json}). */
    static Map<String, Object> json(DecodeStats st, Path model, long seed, DecodeRequest req) {
        Config c = st.config();
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> dims = new LinkedHashMap<>();
        dims.put("path", model.toString());
        dims.put("dim", c.dim());
        dims.put("hidden_dim", c.hiddenDim());
        dims.put("n_layers", c.nLayers());
        dims.put("n_heads", c.nHeads());
        dims.put("n_kv_heads", c.nKvHeads());
        dims.put("vocab_size", c.vocabSize());
        dims.put("seq_len", c.seqLen());
        dims.put("shared_classifier", c.sharedClassifier());
        m.put("model", dims);
        m.put("device", st.device());
        m.put("strategy", st.strategy().name().toLowerCase(Locale.ROOT));
        if (req != null) {
            m.put("temperature", req.temperature());
            m.put("topp", req.topp());
            m.put("seed", seed);
        }
        m.put("prompt_tokens", st.promptTokens());
        m.put("tokens", st.tokens());
        m.put("generated_tokens", st.ids().length);
        m.put("tokens_per_s", round(st.tokensPerSecond(), 1));
        m.put("tokens_per_cpu_s", round(st.tokensPerCpuSecond(), 1));
        m.put("decode_ms", round(st.decodeNanos() / 1e6, 3));
        m.put("first_token_ms", round(st.firstTokenNanos() / 1e6, 3));
        m.put("first_token_cpu_ms", st.firstTokenCpuNanos() < 0 ? null : round(st.firstTokenCpuNanos() / 1e6, 3));
        m.put("reserve_ms", round(st.reserveNanos() / 1e6, 3));
        m.put("raw_allocs_total", st.rawAllocsTotal());
        m.put("raw_allocs_first_step", st.rawAllocsFirst());
        m.put("raw_allocs_per_token_steady", round(st.rawAllocsPerTokenSteady(), 4));
        m.put("pool_hit_rate", round(st.poolHitRate(), 6));
        m.put("pool_hit_rate_steady", round(st.poolHitRateSteady(), 6));
        m.put("pool_requests", st.poolRequests());
        m.put("tensorbuffer_hit_rate", round(st.tensorBufferHitRate(), 6));
        m.put("tensorbuffer_requests", st.tensorBufferRequests());
        m.put("peak_live_bytes", st.peakLiveBytes());
        m.put("peak_reserved_bytes", st.peakReservedBytes());
        m.put("prefill", st.batchedPrefill() ? "batched" : "token");
        m.put("prefill_tokens", st.prefillTokens());
        m.put("prefill_ms", round(st.prefillNanos() / 1e6, 3));
        m.put("prefill_tokens_per_s", round(st.prefillTokensPerSecond(), 1));
        m.put("decode_tokens_per_s", round(st.decodeTokensPerSecond(), 1));
        m.put("prefill_raw_allocs", st.prefillRawAllocs());
        m.put("decode_raw_allocs", st.decodeRawAllocs());
        m.put("liveness_lower_bound_bytes", st.lowerBoundBytes());
        m.put("ids", st.ids());
        return m;
    }

    private static Object round(double v, int digits) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return null;
        }
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    /**
     * A progress line on stderr, updated at most once a second, for runs that take more than a second. The first
     * position is reported as warm-up (it compiles the kernels); tokens per second count from the second position on.
     */
    static final class Progress {
        private final StderrProgress line;
        private long warm;
        private int warmDone;

        Progress(PrintStream err, boolean enabled) {
            this.line = new StderrProgress(err, enabled, "decode");
        }

        void update(int done, int total) {
            long now = System.nanoTime();
            if (warm == 0 && done >= 1) {
                warm = now;
                warmDone = done;
            }
            if (!line.due()) {
                return; // called once a position, inside the timed decode: format only what is printed
            }
            if (done <= warmDone || warm == 0) {
                line.update(done + "/" + total + " positions (first position: warm-up, JIT compiling)");
            } else {
                double s = (now - warm) / 1e9;
                line.update(String.format("%d/%d positions, %.1f tok/s after the first", done, total,
                        (done - warmDone) / s));
            }
        }

        void done() {
            line.done();
        }
    }
}
