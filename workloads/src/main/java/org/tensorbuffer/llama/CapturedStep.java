package org.tensorbuffer.llama;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.device.StepGraph;
import org.tensorbuffer.memory.Block;

/**
 * A decode step of a {@link Transformer} captured on its device ({@link Transformer#captureStep()}): {@link #run}
 * writes the token and the position into the step's input tensor (8 bytes from the host) and replays the recorded
 * work, which leaves the logits in one static tensor and the greedy pick in the device's memory ({@link #next()}).
 * The KV cache is the model's: each run writes row {@code pos} of it, as {@link Transformer#forward} does, and gives
 * the same logits.
 *
 * <p>While open it holds the step's blocks taken from the context's TensorBuffer (see
 * {@link Transformer#captureStep()}); {@link #close()} gives them back. Not thread-safe: one decode at a time.
 */
public final class CapturedStep implements AutoCloseable {
    /** Elements of the I32 input tensor: token, position, and the greedy pick written by the step. */
    static final int INPUTS = 3;

    private final Transformer model;
    private final StepGraph graph;
    private final Tensor inputs;
    private final Tensor tokenIndex;
    private final Tensor posIndex;
    private final Tensor next;
    private final Tensor logits;
    private final List<Block> held;
    private final int[] hostInputs = new int[2];
    private final MemorySegment hostSegment = MemorySegment.ofArray(hostInputs);
    private final int[] hostNext = new int[1];
    private boolean closed;

    CapturedStep(Transformer model, StepGraph graph, Tensor inputs, Tensor tokenIndex, Tensor posIndex, Tensor next,
                 Tensor logits, List<Block> held) {
        this.model = model;
        this.graph = graph;
        this.inputs = inputs;
        this.tokenIndex = tokenIndex;
        this.posIndex = posIndex;
        this.next = next;
        this.logits = logits;
        this.held = held;
    }

    /**
     * Runs position {@code pos} on {@code token} by replaying the captured step (does not wait for it).
     *
     * @return the logits over the vocabulary, shape {@code [vocabSize]}: the step's static output tensor, overwritten
     *         by the next run and closed by {@link #close()} (the caller must not close it)
     * @throws IndexOutOfBoundsException if {@code token} is not in {@code [0, vocabSize)} or {@code pos} not in
     *                                   {@code [0, seqLen)}
     * @throws IllegalStateException     if this step is closed
     */
    public Tensor run(int token, int pos) {
        checkOpen();
        model.checkStep(token, pos);
        hostInputs[0] = token;
        hostInputs[1] = pos;
        inputs.device().copyFromHost(hostSegment, 0, inputs.buffer(), inputs.byteOffset(), hostSegment.byteSize());
        graph.replay();
        return logits;
    }

    /** The greedy pick of the last {@link #run}: the index of its largest logit (waits for the run). */
    public int next() {
        checkOpen();
        next.device().copyToHost(next.buffer(), next.byteOffset(), MemorySegment.ofArray(hostNext), 0, Integer.BYTES);
        return hostNext[0];
    }

    /** Commands (kernels and copies) the step replays. */
    public int commands() {
        return graph.commands();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the captured step is closed");
        }
    }

    /** Releases the recorded work and gives the held blocks and the step's tensors back. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        graph.close();
        held.forEach(Block::release);
        logits.close();
        next.close();
        posIndex.close();
        tokenIndex.close();
        inputs.close();
    }
}
