package org.tensorbuffer.llama;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.observe.MemoryHistory;
import org.tensorbuffer.observe.MemoryRecording;

/**
 * Runs a {@link DecodeRequest} end to end on a fresh {@link TensorContext} (its own BufferPool and TensorBuffer, so
 * the statistics are the decode's alone): open the checkpoint and tokenizer, upload the weights, encode the prompt,
 * {@link Generator#generate generate}, close everything.
 */
public final class DecodeRun {
    private DecodeRun() {
    }

    /** The result: statistics, and the tokenizer used (or {@code null}). */
    public record Result(DecodeStats stats, Tokenizer tokenizer, int[] promptTokens) {
    }

    /**
     * Decodes.
     *
     * @param listener receives each token (may be {@code null})
     * @throws ModelFormatException     for a bad checkpoint or tokenizer (names file and field)
     * @throws IllegalArgumentException for steps outside {@code [0, seq_len]}, a prompt without a tokenizer, or bad
     *                                  sampling parameters
     * @throws IOException              if a file cannot be read
     */
    public static Result run(DecodeRequest r, Generator.Listener listener) throws IOException {
        return run(r, listener, MemoryRecording.none());
    }

    /**
     * Decodes as {@link #run(DecodeRequest, Generator.Listener)}, recording the context's allocations from the weight
     * upload to the last token and writing them to {@code memoryTimeline} as an HTML timeline
     * ({@link MemoryHistory#writeHtml}) when it is not {@code null}.
     */
    public static Result run(DecodeRequest r, Generator.Listener listener, Path memoryTimeline) throws IOException {
        return run(r, listener, new MemoryRecording(memoryTimeline, null, false, null));
    }

    /**
     * Decodes as {@link #run(DecodeRequest, Generator.Listener)}, recording the context's allocations from the weight
     * upload to the last token as {@code recording} asks (timeline page, PyTorch snapshot, stacks).
     */
    public static Result run(DecodeRequest r, Generator.Listener listener, MemoryRecording recording)
            throws IOException {
        return run(r, listener, recording, PrefillMode.BATCHED);
    }

    /**
     * Decodes as {@link #run(DecodeRequest, Generator.Listener, MemoryRecording)} with the prompt run as
     * {@code prefill} says ({@link Generator#generate(Transformer, Sampler, int[], int, Generator.Listener,
     * PrefillMode)}).
     */
    public static Result run(DecodeRequest r, Generator.Listener listener, MemoryRecording recording,
                             PrefillMode prefill)
            throws IOException {
        return run(r, listener, recording, prefill, null, null);
    }

    /**
     * Decodes as {@link #run(DecodeRequest, Generator.Listener, MemoryRecording, PrefillMode)}; under PROACTIVE,
     * {@code plan} (if not null) is reserved instead of a recorded step ({@link Transformer#reservationPlan}), and
     * {@code reserved} (if not null) is handed what the run reserved ({@link Transformer#reservedPlan()}, empty under
     * the other strategies) before the model closes, e.g. to save it.
     */
    public static Result run(DecodeRequest r, Generator.Listener listener, MemoryRecording recording,
                             PrefillMode prefill, ReservationPlan plan, Consumer<ReservationPlan> reserved)
            throws IOException {
        MemoryRecording rec = recording == null ? MemoryRecording.none() : recording;
        try (Checkpoint ck = Checkpoint.open(r.model())) {
            Config c = ck.config();
            int steps = r.steps() == 0 ? c.seqLen() : r.steps();
            if (steps < 0 || steps > c.seqLen()) {
                throw new IllegalArgumentException("steps " + r.steps() + " is outside [0, seq_len " + c.seqLen()
                        + "] of " + r.model() + " (header field seq_len; 0 means seq_len)");
            }
            Tokenizer tok = r.tokenizer() == null ? null : Tokenizer.load(r.tokenizer(), c.vocabSize());
            int[] prompt;
            if (tok != null) {
                prompt = tok.encode(r.prompt() == null ? "" : r.prompt(), true, false);
            } else if (r.prompt() == null || r.prompt().isEmpty()) {
                prompt = new int[] {Tokenizer.BOS};
            } else {
                throw new IllegalArgumentException("a prompt needs a tokenizer (--tokenizer) for " + r.model());
            }
            Sampler sampler = new Sampler(c.vocabSize(), r.temperature(), r.topp(), r.seed());
            try (TensorContext ctx = TensorContext.create(Devices.get(r.device()), r.strategy());
                 MemoryHistory history = rec.start(ctx);
                 Transformer model = Transformer.load(ck, ctx, r.model().getFileName().toString())) {
                model.reservationPlan(plan);
                DecodeStats stats = Generator.generate(model, sampler, prompt, steps, listener, prefill);
                if (reserved != null) {
                    reserved.accept(model.reservedPlan());
                }
                rec.finish(history);
                return new Result(stats, tok, prompt);
            }
        }
    }
}
