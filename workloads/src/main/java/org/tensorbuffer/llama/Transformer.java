package org.tensorbuffer.llama;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.Block;

/**
 * The Llama 2 transformer of karpathy/llama2.c's {@code run.c} on a {@link TensorContext}: RMSNorm, grouped-query
 * attention with RoPE over a KV cache, SwiGLU feed-forward, one token per {@link #forward} call.
 *
 * <p>Memory: weights are learnable buffers of the context's {@link org.tensorbuffer.memory.TensorBuffer}
 * ({@code reserveLearnable}, one per weight and layer, named {@code <prefix>/<weight>.<layer>}); the KV cache is one
 * tensor per layer for keys and one for values, {@code [seqLen, kvDim]}, rows written in place; every activation is
 * a tensor from the context's ops, so the context's {@link org.tensorbuffer.AllocationStrategy} applies to each, and
 * each is closed as soon as it is dead. {@link #stepBuffers} lists the activation shapes of one step with the number
 * of each live at the same time, for {@code TensorBuffer.reserve} before decoding.
 *
 * <p>Not thread-safe: one decode at a time.
 */
public final class Transformer implements AutoCloseable {
    /** RMSNorm epsilon of run.c. */
    public static final double RMS_EPS = 1e-5;

    private final Config c;
    private final TensorContext ctx;
    private final List<Tensor> owned = new ArrayList<>();
    private final Tensor embedding;
    private final Tensor[] rmsAtt;
    private final Tensor[] wq;
    private final Tensor[] wk;
    private final Tensor[] wv;
    private final Tensor[] wo;
    private final Tensor[] rmsFfn;
    private final Tensor[] w1;
    private final Tensor[] w2;
    private final Tensor[] w3;
    private final Tensor rmsFinal;
    private final Tensor wcls;
    private final Tensor[] keyCache;
    private final Tensor[] valueCache;
    private final String name;
    private final Shape dimShape;
    private final Shape scratchShape;
    private LiveShapes tracker;
    private boolean reserved;
    private org.tensorbuffer.plan.PlanCache planCache;
    private boolean closed;

    private Transformer(Checkpoint ck, TensorContext ctx, String prefix) {
        this.c = ck.config();
        this.ctx = ctx;
        this.name = ck.path().toString();
        this.dimShape = Shape.of(c.dim());
        this.scratchShape = Shape.of(c.nHeads(), c.seqLen());
        int l = c.nLayers();
        try {
            embedding = upload(ck, ctx, prefix, "token_embedding_table", 0);
            rmsAtt = uploadLayers(ck, ctx, prefix, "rms_att_weight");
            wq = uploadLayers(ck, ctx, prefix, "wq");
            wk = uploadLayers(ck, ctx, prefix, "wk");
            wv = uploadLayers(ck, ctx, prefix, "wv");
            wo = uploadLayers(ck, ctx, prefix, "wo");
            rmsFfn = uploadLayers(ck, ctx, prefix, "rms_ffn_weight");
            w1 = uploadLayers(ck, ctx, prefix, "w1");
            w2 = uploadLayers(ck, ctx, prefix, "w2");
            w3 = uploadLayers(ck, ctx, prefix, "w3");
            rmsFinal = upload(ck, ctx, prefix, "rms_final_weight", 0);
            wcls = c.sharedClassifier() ? embedding : upload(ck, ctx, prefix, "wcls", 0);
            keyCache = new Tensor[l];
            valueCache = new Tensor[l];
        } catch (RuntimeException e) {
            owned.forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * Uploads the weights of {@code checkpoint} as learnable buffers of {@code ctx}'s TensorBuffer. The KV cache is
     * allocated by {@link #allocateCache()}, so that a PROACTIVE caller can reserve it first.
     *
     * @param prefix names the learnable buffers ({@code prefix/wq.0}, ...); must be unique within the TensorBuffer
     * @throws IllegalArgumentException if a learnable buffer of one of the names exists
     */
    public static Transformer load(Checkpoint checkpoint, TensorContext ctx, String prefix) {
        return new Transformer(checkpoint, ctx, prefix);
    }

    private Tensor[] uploadLayers(Checkpoint ck, TensorContext ctx, String prefix, String name) {
        Tensor[] t = new Tensor[c.nLayers()];
        for (int i = 0; i < t.length; i++) {
            t[i] = upload(ck, ctx, prefix, name, i);
        }
        return t;
    }

    private Tensor upload(Checkpoint ck, TensorContext ctx, String prefix, String name, int layer) {
        Shape shape = ck.section(name).shape();
        Block block = ctx.tensorBuffer().reserveLearnable(prefix + "/" + name + "." + layer, shape, DType.F32);
        Tensor t = ctx.wrap(block.retain(), shape, DType.F32);
        owned.add(t);
        MemorySegment src = ck.weight(name, layer);
        ctx.device().copyFromHost(src, 0, t.buffer(), t.byteOffset(), t.byteSize());
        return t;
    }

    /** The model's hyperparameters. */
    public Config config() {
        return c;
    }

    /** The context the tensors live in. */
    public TensorContext context() {
        return ctx;
    }

    /** The checkpoint file the weights came from (for messages). */
    public String name() {
        return name;
    }

    /**
     * Reserves, once, every buffer of a decode step in the context's TensorBuffer: the KV cache and
     * {@link #stepBuffers()} (counts added where shapes coincide), so that under
     * {@link org.tensorbuffer.AllocationStrategy#PROACTIVE} no step after this makes a device allocation. A second
     * call does nothing.
     *
     * @return the reservations made (shape to count), empty on a second call
     */
    public Map<Shape, Integer> reserve() {
        checkOpen();
        if (reserved) {
            return Map.of();
        }
        Map<Shape, Integer> all = new LinkedHashMap<>(cacheBuffers());
        stepBuffers().forEach((s, n) -> all.merge(s, n, Integer::sum));
        all.forEach((s, n) -> ctx.tensorBuffer().reserve(s, DType.F32, n));
        reserved = true;
        return all;
    }

    /** Shape of one layer's key (or value) cache: {@code [seqLen, kvDim]}. */
    public Shape cacheShape() {
        return Shape.of(c.seqLen(), c.kvDim());
    }

    /**
     * Allocates (or re-allocates) the KV cache through the context's strategy: {@code 2 * nLayers} zeroed tensors of
     * {@link #cacheShape()}.
     */
    public void allocateCache() {
        checkOpen();
        freeCache();
        for (int i = 0; i < c.nLayers(); i++) {
            keyCache[i] = ctx.zeros(cacheShape(), DType.F32);
            valueCache[i] = ctx.zeros(cacheShape(), DType.F32);
        }
    }

    private void freeCache() {
        for (int i = 0; i < c.nLayers(); i++) {
            if (keyCache[i] != null) {
                keyCache[i].close();
                keyCache[i] = null;
            }
            if (valueCache[i] != null) {
                valueCache[i].close();
                valueCache[i] = null;
            }
        }
    }

    /**
     * The activation buffers of one {@link #forward} step (the KV cache excluded): each shape (F32) with the largest
     * number of buffers of that shape live at the same time. Derived by replaying the step's allocations and frees in
     * the order {@link #forward} makes them (a test checks the two agree).
     */
    public static Map<Shape, Integer> stepBuffers(Config c) {
        LiveShapes s = new LiveShapes();
        Shape d = Shape.of(c.dim());
        Shape kv = Shape.of(c.kvDim());
        Shape h = Shape.of(c.hiddenDim());
        s.alloc(d); // x
        for (int l = 0; l < c.nLayers(); l++) {
            s.alloc(d); // xb = rmsnorm(x)
            s.alloc(d); // q
            s.alloc(kv); // k
            s.alloc(kv); // v
            s.free(d); // xb
            s.alloc(d); // q rotated
            s.free(d); // q
            s.alloc(kv); // k rotated
            s.free(kv); // k
            s.free(kv); // k rotated, after the copy into the cache
            s.free(kv); // v, after the copy into the cache
            s.alloc(d); // attention output
            s.alloc(Shape.of(c.nHeads(), c.seqLen())); // attention scratch, inside Tensor.attention
            s.free(Shape.of(c.nHeads(), c.seqLen()));
            s.free(d); // q rotated
            s.alloc(d); // wo @ attention
            s.free(d); // attention output
            s.free(d); // wo @ attention, after x += it
            s.alloc(d); // xb = rmsnorm(x)
            s.alloc(h); // w1 @ xb
            s.alloc(h); // w3 @ xb
            s.free(d); // xb
            s.alloc(h); // silu(w1 @ xb)
            s.free(h); // w1 @ xb
            s.alloc(h); // silu * (w3 @ xb)
            s.free(h); // silu
            s.free(h); // w3 @ xb
            s.alloc(d); // w2 @ ...
            s.free(h); // silu * (w3 @ xb)
            s.free(d); // w2 @ ..., after x += it
        }
        s.alloc(d); // final rmsnorm
        s.free(d); // x
        s.alloc(Shape.of(c.vocabSize())); // logits
        s.free(d); // final rmsnorm
        s.free(Shape.of(c.vocabSize())); // logits, closed by the caller
        return s.peaks();
    }

    /** {@link #stepBuffers(Config)} for this model. */
    public Map<Shape, Integer> stepBuffers() {
        return stepBuffers(c);
    }

    /** The KV cache buffers: {@link #cacheShape()} times {@code 2 * nLayers}. */
    public Map<Shape, Integer> cacheBuffers() {
        Map<Shape, Integer> m = new LinkedHashMap<>();
        m.put(cacheShape(), 2 * c.nLayers());
        return m;
    }

    /**
     * Runs one position: embeds {@code token}, writes its keys and values to row {@code pos} of the cache, and
     * returns the logits over the vocabulary, shape {@code [vocabSize]}, which the caller must close.
     *
     * @throws IllegalStateException     if the cache was not allocated or the model is closed
     * @throws IndexOutOfBoundsException if {@code token} is not in {@code [0, vocabSize)} or {@code pos} not in
     *                                   {@code [0, seqLen)}
     */
    public Tensor forward(int token, int pos) {
        checkOpen();
        if (keyCache[0] == null) {
            throw new IllegalStateException("allocateCache() before forward()");
        }
        if (token < 0 || token >= c.vocabSize()) {
            throw new IndexOutOfBoundsException("token " + token + " outside [0, " + c.vocabSize() + ")");
        }
        if (pos < 0 || pos >= c.seqLen()) {
            throw new IndexOutOfBoundsException("position " + pos + " outside [0, seq_len " + c.seqLen() + ")");
        }
        int hs = c.headSize();
        Tensor x = own(ctx.empty(dimShape, DType.F32));
        try (Tensor row = embedding.row(token)) {
            x.copyFrom(row);
        }
        for (int l = 0; l < c.nLayers(); l++) {
            // attention block
            Tensor xb = own(x.rmsnorm(rmsAtt[l], RMS_EPS));
            Tensor q = own(wq[l].matmul(xb));
            Tensor k = own(wk[l].matmul(xb));
            Tensor v = own(wv[l].matmul(xb));
            free(xb);
            Tensor qr = own(q.rope(pos, hs));
            free(q);
            Tensor kr = own(k.rope(pos, hs));
            free(k);
            try (Tensor kRow = keyCache[l].row(pos); Tensor vRow = valueCache[l].row(pos)) {
                kRow.copyFrom(kr);
                vRow.copyFrom(v);
            }
            free(kr);
            free(v);
            if (tracker != null) {
                tracker.alloc(dimShape); // the output, allocated first inside attention
                tracker.alloc(scratchShape); // then its scratch, closed inside
                tracker.free(scratchShape);
            }
            Tensor att = Tensor.attention(qr, keyCache[l], valueCache[l], c.nHeads(), c.nKvHeads(), hs, pos);
            free(qr);
            Tensor o = own(wo[l].matmul(att));
            free(att);
            x.addInPlace(o);
            free(o);
            // feed-forward block
            xb = own(x.rmsnorm(rmsFfn[l], RMS_EPS));
            Tensor h1 = own(w1[l].matmul(xb));
            Tensor h3 = own(w3[l].matmul(xb));
            free(xb);
            Tensor s = own(h1.silu());
            free(h1);
            Tensor g = own(s.mul(h3));
            free(s);
            free(h3);
            Tensor y = own(w2[l].matmul(g));
            free(g);
            x.addInPlace(y);
            free(y);
        }
        Tensor xf = own(x.rmsnorm(rmsFinal, RMS_EPS));
        free(x);
        Tensor logits = own(wcls.matmul(xf));
        free(xf);
        if (tracker != null) {
            tracker.free(logits.shape()); // the caller closes it
        }
        return logits;
    }

    /**
     * Batched prefill: runs the {@code T = tokens.length} prompt tokens at positions {@code startPos..startPos+T-1}
     * through each layer at once as {@code [T, dim]} matrices (GEMMs with the weights instead of GEMVs, causal
     * attention inside the prompt, the keys and values of all {@code T} positions written to rows
     * {@code startPos..startPos+T-1} of the cache in one copy), and returns the logits of the last position, shape
     * {@code [vocabSize]}, which the caller must close. Equivalent to {@link #forward} for each token in turn (up to
     * float rounding of the different summation order).
     *
     * <p>Its activation shapes depend on {@code T}: {@link #prefillBuffers(Config, int)} lists them.
     *
     * @throws IllegalStateException     if the cache was not allocated or the model is closed
     * @throws IllegalArgumentException  if {@code tokens} is empty
     * @throws IndexOutOfBoundsException if a token is not in {@code [0, vocabSize)} or the positions are not inside
     *                                   {@code [0, seqLen)}
     */
    public Tensor prefill(int[] tokens, int startPos) {
        checkOpen();
        if (keyCache[0] == null) {
            throw new IllegalStateException("allocateCache() before prefill()");
        }
        int t = tokens.length;
        if (t == 0) {
            throw new IllegalArgumentException("prefill of no tokens");
        }
        if (startPos < 0 || startPos + t > c.seqLen()) {
            throw new IndexOutOfBoundsException("positions " + startPos + ".." + (startPos + t - 1)
                    + " outside [0, seq_len " + c.seqLen() + ")");
        }
        for (int tok : tokens) {
            if (tok < 0 || tok >= c.vocabSize()) {
                throw new IndexOutOfBoundsException("token " + tok + " outside [0, " + c.vocabSize() + ")");
            }
        }
        int hs = c.headSize();
        Shape rowsDim = Shape.of(t, c.dim());
        Tensor x = own(embedding.embedding(tokens));
        for (int l = 0; l < c.nLayers(); l++) {
            // attention block: x [T, dim] @ W^T for each projection
            Tensor xb = own(x.rmsnorm(rmsAtt[l], RMS_EPS));
            Tensor q = own(xb.matmul(wq[l], false, true));
            Tensor k = own(xb.matmul(wk[l], false, true));
            Tensor v = own(xb.matmul(wv[l], false, true));
            free(xb);
            q.ropeRowsInPlace(startPos, hs);
            k.ropeRowsInPlace(startPos, hs);
            try (Tensor kRows = keyCache[l].slice(startPos, startPos + t);
                 Tensor vRows = valueCache[l].slice(startPos, startPos + t)) {
                kRows.copyFrom(k);
                vRows.copyFrom(v);
            }
            free(k);
            free(v);
            if (tracker != null) {
                tracker.alloc(rowsDim); // the output, allocated first inside causalAttention
                tracker.alloc(scratchShape); // then its scratch, closed inside
                tracker.free(scratchShape);
            }
            Tensor att = Tensor.causalAttention(q, keyCache[l], valueCache[l], c.nHeads(), c.nKvHeads(), hs,
                    startPos);
            free(q);
            Tensor o = own(att.matmul(wo[l], false, true));
            free(att);
            x.addInPlace(o);
            free(o);
            // feed-forward block
            xb = own(x.rmsnorm(rmsFfn[l], RMS_EPS));
            Tensor h1 = own(xb.matmul(w1[l], false, true));
            Tensor h3 = own(xb.matmul(w3[l], false, true));
            free(xb);
            Tensor s = own(h1.silu());
            free(h1);
            Tensor g = own(s.mul(h3));
            free(s);
            free(h3);
            Tensor y = own(g.matmul(w2[l], false, true));
            free(g);
            x.addInPlace(y);
            free(y);
        }
        Tensor xf;
        try (Tensor last = x.row(t - 1)) {
            xf = own(last.rmsnorm(rmsFinal, RMS_EPS));
        }
        free(x);
        Tensor logits = own(wcls.matmul(xf));
        free(xf);
        if (tracker != null) {
            tracker.free(logits.shape()); // the caller closes it
        }
        return logits;
    }

    /**
     * The activation buffers of one {@link #prefill} of {@code t} tokens (the KV cache excluded): each shape (F32)
     * with the largest number of buffers of that shape live at the same time, in first-allocation order. Derived by
     * replaying {@link #prefill}'s allocations and frees (a test checks the two agree).
     */
    public static Map<Shape, Integer> prefillBuffers(Config c, int t) {
        return prefillLiveness(c, t).peaks();
    }

    /**
     * The liveness lower bound of one {@link #prefill} of {@code t} tokens: the largest number of activation bytes
     * (F32, exact shapes, KV cache and weights excluded) live at the same time. No allocator can serve the prefill
     * with less.
     */
    public static long prefillPeakBytes(Config c, int t) {
        return prefillLiveness(c, t).peakBytes();
    }

    /** As {@link #prefillPeakBytes} for one {@link #forward} step. */
    public static long stepPeakBytes(Config c) {
        LiveShapes s = new LiveShapes();
        // the replay of stepBuffers, with bytes
        replayStep(c, s);
        return s.peakBytes();
    }

    private static void replayStep(Config c, LiveShapes s) {
        Shape d = Shape.of(c.dim());
        Shape kv = Shape.of(c.kvDim());
        Shape h = Shape.of(c.hiddenDim());
        Shape sc = Shape.of(c.nHeads(), c.seqLen());
        s.alloc(d);
        for (int l = 0; l < c.nLayers(); l++) {
            s.alloc(d);
            s.alloc(d);
            s.alloc(kv);
            s.alloc(kv);
            s.free(d);
            s.alloc(d);
            s.free(d);
            s.alloc(kv);
            s.free(kv);
            s.free(kv);
            s.free(kv);
            s.alloc(d);
            s.alloc(sc);
            s.free(sc);
            s.free(d);
            s.alloc(d);
            s.free(d);
            s.free(d);
            s.alloc(d);
            s.alloc(h);
            s.alloc(h);
            s.free(d);
            s.alloc(h);
            s.free(h);
            s.alloc(h);
            s.free(h);
            s.free(h);
            s.alloc(d);
            s.free(h);
            s.free(d);
        }
        s.alloc(d);
        s.free(d);
        s.alloc(Shape.of(c.vocabSize()));
        s.free(d);
        s.free(Shape.of(c.vocabSize()));
    }

    private static LiveShapes prefillLiveness(Config c, int t) {
        LiveShapes s = new LiveShapes();
        Shape d = Shape.of(t, c.dim());
        Shape kv = Shape.of(t, c.kvDim());
        Shape h = Shape.of(t, c.hiddenDim());
        Shape sc = Shape.of(c.nHeads(), c.seqLen());
        s.alloc(d); // x = embedding rows
        for (int l = 0; l < c.nLayers(); l++) {
            s.alloc(d); // xb
            s.alloc(d); // q
            s.alloc(kv); // k
            s.alloc(kv); // v
            s.free(d); // xb
            s.free(kv); // k, roped in place and copied into the cache
            s.free(kv); // v, copied into the cache
            s.alloc(d); // attention output
            s.alloc(sc); // attention scratch, inside causalAttention
            s.free(sc);
            s.free(d); // q
            s.alloc(d); // att @ wo^T
            s.free(d); // attention output
            s.free(d); // o, after x += o
            s.alloc(d); // xb
            s.alloc(h); // h1
            s.alloc(h); // h3
            s.free(d); // xb
            s.alloc(h); // silu(h1)
            s.free(h); // h1
            s.alloc(h); // silu * h3
            s.free(h); // silu
            s.free(h); // h3
            s.alloc(d); // y
            s.free(h); // g
            s.free(d); // y, after x += y
        }
        s.alloc(Shape.of(c.dim())); // final rmsnorm of the last row
        s.free(d); // x
        s.alloc(Shape.of(c.vocabSize())); // logits
        s.free(Shape.of(c.dim()));
        s.free(Shape.of(c.vocabSize())); // logits, closed by the caller
        return s;
    }

    /**
     * Reserves, for each bucket size {@code T'} of {@code buckets} up to {@code buckets.bucket(maxTokens)}, the
     * buffers of a {@link #prefill} of {@code T'} tokens ({@link #prefillBuffers}), topping up shapes already
     * reserved (by {@link #reserve()} or a smaller bucket) to the count needed rather than adding to them, since a
     * prefill and a decode step are never live at the same time. With the buckets installed on the context
     * ({@link TensorContext#shapeBuckets(ShapeBuckets)}), every prefill of up to {@code maxTokens} tokens is then
     * served from reservations.
     *
     * @return the reservations made (shape to count added)
     */
    public Map<Shape, Integer> reservePrefill(org.tensorbuffer.memory.ShapeBuckets buckets, int maxTokens) {
        checkOpen();
        Map<Shape, Integer> made = new LinkedHashMap<>();
        long top = buckets.bucket(maxTokens);
        for (long b : buckets.sizes()) {
            if (b > top || b > c.seqLen()) {
                break;
            }
            prefillBuffers(c, (int) b).forEach((s, n) -> {
                int have = ctx.tensorBuffer().reservedCount(s, DType.F32);
                if (n > have) {
                    ctx.tensorBuffer().reserve(s, DType.F32, n - have);
                    made.merge(s, n - have, Integer::sum);
                }
            });
        }
        return made;
    }

    /**
     * The plan cache of this model's runs under {@link org.tensorbuffer.AllocationStrategy#PLANNED}: one plan per
     * shape signature ({@code "step"} for {@link #forward}, {@code "prefill/T"} for a {@link #prefill} of {@code T}
     * tokens), created on first use over the context's planner.
     */
    public org.tensorbuffer.plan.PlanCache planCache() {
        if (planCache == null) {
            planCache = new org.tensorbuffer.plan.PlanCache(ctx.planner());
        }
        return planCache;
    }

    private Tensor own(Tensor t) {
        if (tracker != null) {
            tracker.alloc(t.shape());
        }
        return t;
    }

    private void free(Tensor t) {
        if (tracker != null) {
            tracker.free(t.shape());
        }
        t.close();
    }

    /** Starts recording live buffers per shape in {@link #forward} (for tests of {@link #stepBuffers}). */
    LiveShapes track() {
        tracker = new LiveShapes();
        return tracker;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("transformer is closed");
        }
    }

    /**
     * Closes the KV cache and the weight tensors; the learnable buffers stay reserved until the TensorBuffer clears
     * them ({@code clearLearnable} or {@code close}).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        freeCache();
        owned.forEach(Tensor::close);
    }
}
