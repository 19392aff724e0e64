/**
 * A llama2.c decoder on the tensor API: {@link org.tensorbuffer.llama.Checkpoint} and
 * {@link org.tensorbuffer.llama.Tokenizer} read Karpathy's llama2.c files, {@link org.tensorbuffer.llama.Transformer}
 * runs the forward pass (the same arithmetic as {@code run.c}), {@link org.tensorbuffer.llama.Generator} decodes with
 * a {@link org.tensorbuffer.llama.Sampler}; greedy token ids equal {@code run.c}'s.
 */
package org.tensorbuffer.llama;
