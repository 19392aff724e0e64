package org.tensorbuffer.llama;

import java.nio.file.Path;
import org.tensorbuffer.AllocationStrategy;

/**
 * One decode to run: model, tokenizer, prompt, sampling and where the memory comes from.
 *
 * @param model       llama2.c checkpoint
 * @param tokenizer   llama2.c tokenizer, or {@code null} (then the prompt must be empty: only ids can be produced)
 * @param prompt      text to start from ({@code ""} for none)
 * @param steps       positions to run, prompt included, {@code 1..seq_len}; 0 means seq_len (as run.c)
 * @param temperature 0 for greedy
 * @param topp        nucleus threshold (run.c's {@code -p}); {@code <= 0} or {@code >= 1} disables it
 * @param seed        xorshift seed (run.c's {@code -s}), non-zero when sampling
 * @param device      device id, e.g. {@code cpu}
 * @param strategy    the allocation strategy of the decode's {@link org.tensorbuffer.TensorContext}
 */
public record DecodeRequest(Path model, Path tokenizer, String prompt, int steps, float temperature, float topp,
                            long seed, String device, AllocationStrategy strategy) {

    /** A greedy request with an empty prompt on {@code cpu}. */
    public static DecodeRequest greedy(Path model, int steps, AllocationStrategy strategy) {
        return new DecodeRequest(model, null, "", steps, 0f, 0.9f, 1L, "cpu", strategy);
    }

    /** This request with another strategy. */
    public DecodeRequest withStrategy(AllocationStrategy s) {
        return new DecodeRequest(model, tokenizer, prompt, steps, temperature, topp, seed, device, s);
    }
}
