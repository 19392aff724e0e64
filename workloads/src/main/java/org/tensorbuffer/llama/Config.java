package org.tensorbuffer.llama;

/**
 * The hyperparameters of a llama2.c checkpoint: the seven int32 fields of its header, in file order.
 *
 * @param dim          transformer width (elements of the residual stream)
 * @param hiddenDim    width of the SwiGLU feed-forward layer
 * @param nLayers      number of transformer blocks
 * @param nHeads       number of query heads
 * @param nKvHeads     number of key/value heads ({@code nHeads} a multiple of it; fewer means grouped-query attention)
 * @param vocabSize    number of tokens (positive; the file stores it negated when the classifier is not shared)
 * @param seqLen       maximum sequence length (positions of the KV cache)
 * @param sharedClassifier whether the output classifier reuses the token embedding table
 */
public record Config(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen,
                     boolean sharedClassifier) {

    /** Elements per attention head, {@code dim / nHeads}. */
    public int headSize() {
        return dim / nHeads;
    }

    /** Width of the key and value vectors, {@code nKvHeads * headSize}. */
    public int kvDim() {
        return nKvHeads * headSize();
    }

    @Override
    public String toString() {
        return "dim=" + dim + " hidden_dim=" + hiddenDim + " n_layers=" + nLayers + " n_heads=" + nHeads
                + " n_kv_heads=" + nKvHeads + " vocab_size=" + vocabSize + " seq_len=" + seqLen
                + (sharedClassifier ? "" : " (unshared classifier)");
    }
}
