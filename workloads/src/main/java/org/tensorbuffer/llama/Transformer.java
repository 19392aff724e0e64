package org.tensorbuffer.llama;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.plan.AllocationTrace;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import java.util.Map;
import java.util.LinkedHashMap;

/**
 * The Llama 2 transformer of karpathy/llama2.c's {@code run.c} on a {@link TensorContext}: RMSNorm, grouped-query
 * attention with RoPE over a KV cache, SwiGLU feed-forward, one token per {@link #forward} call.
 *
 * <p>Memory: weights are learnable buffers of the context's {@link org.tensorbuffer.memory.TensorBuffer}
 * ({@code reserveLearnable}, one per weight and layer, named {@code <prefix>/<weight>.<layer>}, except that each layer's
 * wq/wk/wv are one stacked buffer {@code wqkv} and w1/w3 one {@code w13}, so that a decode step applies each group as
 * one matrix-vector product); the KV cache is one
 * tensor per layer for keys and one for values, {@code [seqLen, kvDim]}, rows written in place; every activation is
 * a tensor from the context's ops, so the context's {@link org.tensorbuffer.AllocationStrategy} applies to each, and
 * each is closed as soon as it is dead. {@link #recordStep(Checkpoint)} runs one step on the {@code meta} device and
 * returns what it takes from a TensorBuffer (KV cache and activations, per shape the number live at once), for
 * {@code TensorBuffer.reserve(plan)} before decoding: no reservation list is written by hand.
 *
 * <p>Not thread-safe: one decode at a time.
 */
public final class Transformer implements AutoCloseable {
    /** RMSNorm epsilon of run.c. */
    public static final double RMS_EPS = 1e-5;

    private final Config c;
    private final TensorContext ctx;
    private final List<Tensor> owned = new ArrayList<>();
    /** Row-slice views of stacked weights ({@link #wq}, ...), closed before {@link #owned}. */
    private final List<Tensor> views = new ArrayList<>();
    private final Tensor embedding;
    private final Tensor[] rmsAtt;
    /** Per layer wq, wk and wv one under the other, {@code [dim + 2 kvDim, dim]}; wq/wk/wv are views of it. */
    private final Tensor[] wqkv;
    /** Per layer w1 and w3 one under the other, {@code [2 hidden, dim]}; w1/w3 are views of it. */
    private final Tensor[] w13;
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
    private final Checkpoint checkpoint;
    private final Shape dimShape;
    private boolean reserved;
    /** A plan to reserve instead of recording one ({@link #reservationPlan(ReservationPlan)}), or null. */
    private ReservationPlan presetPlan;
    /** What {@link #reserve()} and {@link #reservePrefill} reserved, as one plan (per key the larger count). */
    private ReservationPlan reservedPlan = ReservationPlan.empty();
    private org.tensorbuffer.plan.PlanCache planCache;
    private boolean closed;

    private Transformer(Checkpoint ck, TensorContext ctx, String prefix) {
        this.c = ck.config();
        this.ctx = ctx;
        this.name = ck.path().toString();
        this.checkpoint = ck;
        this.dimShape = Shape.of(c.dim());
        int l = c.nLayers();
        try {
            embedding = upload(ck, ctx, prefix, "token_embedding_table", 0);
            rmsAtt = uploadLayers(ck, ctx, prefix, "rms_att_weight");
            wqkv = new Tensor[l];
            wq = new Tensor[l];
            wk = new Tensor[l];
            wv = new Tensor[l];
            w13 = new Tensor[l];
            w1 = new Tensor[l];
            w3 = new Tensor[l];
            for (int i = 0; i < l; i++) {
                Tensor[] qkv = uploadStacked(ck, ctx, prefix, "wqkv", i, "wq", "wk", "wv");
                wqkv[i] = qkv[0];
                wq[i] = qkv[1];
                wk[i] = qkv[2];
                wv[i] = qkv[3];
                Tensor[] h13 = uploadStacked(ck, ctx, prefix, "w13", i, "w1", "w3");
                w13[i] = h13[0];
                w1[i] = h13[1];
                w3[i] = h13[2];
            }
            wo = uploadLayers(ck, ctx, prefix, "wo");
            rmsFfn = uploadLayers(ck, ctx, prefix, "rms_ffn_weight");
            w2 = uploadLayers(ck, ctx, prefix, "w2");
            rmsFinal = upload(ck, ctx, prefix, "rms_final_weight", 0);
            wcls = c.sharedClassifier() ? embedding : upload(ck, ctx, prefix, "wcls", 0);
            keyCache = new Tensor[l];
            valueCache = new Tensor[l];
        } catch (RuntimeException e) {
            views.forEach(Tensor::close);
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

    /**
     * Uploads layer {@code layer}'s weights {@code parts} (each {@code [rows_i, in]}, the same {@code in}) one under
     * the other as one learnable buffer {@code <prefix>/<name>.<layer>} of shape {@code [sum rows_i, in]}, so that a
     * decode step applies them to one vector as one matrix-vector product (one kernel call, and on the CPU one
     * hand-off to the kernels' threads, instead of one per weight). Returns the stacked tensor, then one row-slice
     * view per part (prefill's GEMMs use those, as before).
     */
    private Tensor[] uploadStacked(Checkpoint ck, TensorContext ctx, String prefix, String name, int layer,
                                   String... parts) {
        long rows = 0;
        long in = -1;
        for (String p : parts) {
            Shape sh = ck.section(p).shape();
            rows += sh.dim(0);
            if (in >= 0 && sh.dim(1) != in) {
                throw new IllegalArgumentException(name + ": " + p + " has rows of " + sh.dim(1) + ", not " + in);
            }
            in = sh.dim(1);
        }
        Tensor stacked = learnable(ctx, prefix, name, layer, Shape.of(rows, in));
        Tensor[] out = new Tensor[parts.length + 1];
        out[0] = stacked;
        long r = 0;
        for (int i = 0; i < parts.length; i++) {
            long n = ck.section(parts[i]).shape().dim(0);
            Tensor view = stacked.slice(r, r + n);
            views.add(view);
            out[i + 1] = view;
            copyWeight(ck, ctx, parts[i], layer, view);
            r += n;
        }
        return out;
    }

    private Tensor upload(Checkpoint ck, TensorContext ctx, String prefix, String name, int layer) {
        Tensor t = learnable(ctx, prefix, name, layer, ck.section(name).shape());
        copyWeight(ck, ctx, name, layer, t);
        return t;
    }

    /** The float32 learnable buffer {@code <prefix>/<name>.<layer>} of {@code shape}, as a tensor this model owns. */
    private Tensor learnable(TensorContext ctx, String prefix, String name, int layer, Shape shape) {
        Block block = ctx.tensorBuffer().reserveLearnable(prefix + "/" + name + "." + layer, shape, DType.F32);
        Tensor t = ctx.wrap(block.retain(), shape, DType.F32);
        owned.add(t);
        return t;
    }

    /** Copies layer {@code layer} of the checkpoint's weight {@code name} into {@code t} (of its size). */
    private static void copyWeight(Checkpoint ck, TensorContext ctx, String name, int layer, Tensor t) {
        MemorySegment src = ck.weight(name, layer);
        ctx.device().copyFromHost(src, 0, t.buffer(), t.byteOffset(), t.byteSize());
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
     * Reserves, once, every buffer of a decode step in the context's TensorBuffer: the plan
     * {@link #recordStep(Checkpoint)} records on the {@code meta} device (the KV cache and the step's activations), so
     * that under {@link org.tensorbuffer.AllocationStrategy#PROACTIVE} not even the first step makes a device
     * allocation. A second call does nothing. The recording is made once per {@link Config} in the JVM and reused
     * by later models of the same config.
     *
     * @return the plan reserved, empty on a second call
     */
    public ReservationPlan reserve() {
        checkOpen();
        if (reserved) {
            return ReservationPlan.empty();
        }
        ReservationPlan plan = presetPlan != null ? presetPlan : StepRecordings.plan(checkpoint);
        ctx.tensorBuffer().reserve(plan);
        reserved = true;
        reservedPlan = reservedPlan.max(plan);
        return plan;
    }

    /**
     * Makes {@link #reserve()} reserve {@code plan} (e.g. one {@link ReservationPlan#load loaded} from a file saved
     * from an earlier run's {@link #reservedPlan()}) instead of recording a step, and {@link #reservePrefill} reserve
     * nothing more: the plan is taken to cover the prefill too. A plan that does not match the model costs misses
     * (buffers from the pool), never wrong results. {@code null} goes back to recording.
     */
    public void reservationPlan(ReservationPlan plan) {
        this.presetPlan = plan;
    }

    /**
     * Everything {@link #reserve()} and {@link #reservePrefill} have reserved so far, as one plan (per key the larger
     * count, as they top each other up): what to {@link ReservationPlan#save save} for a later run of the same model
     * and prompt length.
     */
    public ReservationPlan reservedPlan() {
        return reservedPlan;
    }

    /**
     * Runs one decode step ahead on the context's device without doing its work ({@link
     * org.tensorbuffer.device.Device#prepare}), so that the first real step finds made what the device sets up per
     * buffer binding on first use (Vulkan: one descriptor set per distinct tuple of bound buffers; nothing on the CPU
     * and CUDA devices). It pays only where the step's buffers are known ahead: under
     * {@link org.tensorbuffer.AllocationStrategy#PROACTIVE} after {@link #reserve()} and {@link #allocateCache()},
     * every activation of the real step comes from the same reserved blocks. {@link Generator#generate} calls it
     * there where the device does not capture the step ({@link #captureStep()} empty). The prepared step is
     * {@code forward(BOS, 0)} and the greedy pick's {@code argmax} of its logits. The
     * cache's contents and the weights are not touched.
     *
     * @return device objects created ahead (descriptor sets on Vulkan, 0 elsewhere)
     * @throws IllegalStateException if the cache was not allocated or the model is closed
     */
    public int prepareStep() {
        checkOpen();
        if (keyCache[0] == null) {
            throw new IllegalStateException("allocateCache() before prepareStep()");
        }
        return ctx.device().prepare(() -> {
            try (Tensor logits = forward(Tokenizer.BOS, 0)) {
                logits.argmax(); // the greedy pick's kernel binds the logits too
            }
        });
    }

    /**
     * Captures one decode step on the context's device ({@link org.tensorbuffer.device.Device#capture}) for replay at
     * any position: the step ({@link #forward}'s body in its tensor-indexed form, reading the token and the position
     * from a small I32 input tensor on the device) and the greedy pick ({@link Tensor#argmaxInto}) are recorded once;
     * {@link CapturedStep#run} then writes the token and position and replays it, with no op of the step on the host.
     * The graph's logits are one static tensor. While the captured step is open it holds, taken from the context's
     * TensorBuffer, every block of the shapes the step took (per shape the number it had live at once, less the
     * logits it keeps), so that no one else gets the memory a replay writes (as a CUDA graph's private pool): this
     * covers the step when its shapes are reserved exactly, as {@link #reserve()} does; if holding them would fall
     * back to the pool (a shape not reserved, or reserved blocks in use elsewhere) nothing is kept and the result is
     * empty. {@link Generator#generate} uses it under {@link AllocationStrategy#PROACTIVE}, after
     * {@link #reserve()} and {@link #allocateCache()}.
     *
     * @return the captured step, or empty where the device does not capture ({@code cpu}, {@code cuda}, {@code meta})
     *         or the step's blocks could not be held
     * @throws IllegalStateException if the cache was not allocated or the model is closed
     */
    public java.util.Optional<CapturedStep> captureStep() {
        checkOpen();
        if (keyCache[0] == null) {
            throw new IllegalStateException("allocateCache() before captureStep()");
        }
        // Allocated inside the step (a device that does not capture never runs it, so allocates nothing) and left
        // uninitialised: the host writes token and position before every replay, the step writes the pick.
        Tensor[] io = new Tensor[5]; // inputs, token, position, pick, logits
        List<Block> held = new ArrayList<>();
        org.tensorbuffer.device.StepGraph graph = null;
        boolean ok = false;
        try {
            org.tensorbuffer.device.StepGraph[] g = new org.tensorbuffer.device.StepGraph[1];
            ReservationPlan used = ctx.tensorBuffer().record(() -> g[0] = ctx.device().capture(() -> {
                io[0] = ctx.empty(Shape.of(CapturedStep.INPUTS), DType.I32);
                io[1] = io[0].row(0);
                io[2] = io[0].row(1);
                io[3] = io[0].row(2);
                io[4] = step(0, 0, io[1], io[2]);
                io[4].argmaxInto(io[3]);
            }).orElse(null));
            graph = g[0];
            if (graph == null) {
                return java.util.Optional.empty();
            }
            // hold every block of the step's shapes but the two tensors it leaves open (input and logits)
            org.tensorbuffer.memory.ReservationKeying keying = ctx.tensorBuffer().keying();
            long misses = ctx.tensorBuffer().stats().misses();
            for (ReservationPlan.Entry en : used.entries()) {
                Shape key = keying.key(en.shape(), en.dtype());
                int n = en.count();
                for (int i : new int[] {0, 4}) {
                    if (io[i].dtype() == en.dtype() && keying.key(io[i].shape(), io[i].dtype()).equals(key)) {
                        n--;
                    }
                }
                for (int i = 0; i < n; i++) {
                    held.add(ctx.tensorBuffer().take(en.shape(), en.dtype()));
                }
            }
            if (ctx.tensorBuffer().stats().misses() != misses) {
                return java.util.Optional.empty(); // the step's blocks were not all reserved and free: not held
            }
            ok = true;
            return java.util.Optional.of(new CapturedStep(this, graph, io[0], io[1], io[2], io[3], io[4], held));
        } finally {
            if (!ok) {
                held.forEach(Block::release);
                if (graph != null) {
                    graph.close();
                }
                for (int i = io.length - 1; i >= 0; i--) {
                    if (io[i] != null) {
                        io[i].close();
                    }
                }
            }
        }
    }

    /**
     * Records one decode step of the checkpoint's model without doing its work: on a context of the {@code meta}
     * device (no memory, kernels that compute nothing) under the PROACTIVE strategy, it loads the model (the weights
     * are learnable buffers and not part of the plan), then {@link #allocateCache()} and
     * {@link #forward forward(BOS, 0)} run under {@link org.tensorbuffer.memory.TensorBuffer#record(Runnable)}. The
     * plan holds, per shape, the largest number of buffers live at once: the KV cache and every activation. Every
     * position of a decode allocates the same shapes in the same order, so the plan covers every step.
     *
     * @throws IllegalStateException if the checkpoint is closed
     */
    public static ReservationPlan recordStep(Checkpoint checkpoint) {
        return recordStep(checkpoint, "meta");
    }

    /**
     * As {@link #recordStep(Checkpoint)} on the device with the given id (a real device computes the step; the plan
     * is the same).
     */
    public static ReservationPlan recordStep(Checkpoint checkpoint, String deviceId) {
        try (TensorContext meta = TensorContext.create(Devices.get(deviceId), AllocationStrategy.PROACTIVE);
             Transformer t = new Transformer(checkpoint, meta, "record")) {
            return meta.tensorBuffer().record(() -> {
                t.allocateCache();
                t.forward(Tokenizer.BOS, 0).close();
                t.freeCache();
            });
        }
    }

    /**
     * The liveness trace of one decode step recorded on the {@code meta} device by the planner (KV cache allocated
     * inside the run, so it counts; weights outside): its {@link AllocationTrace#lowerBound()} plus the weights'
     * bytes is the least memory any allocator can hold for a decode.
     */
    public static AllocationTrace traceStep(Checkpoint checkpoint) {
        try (TensorContext meta = TensorContext.create(Devices.get("meta"), AllocationStrategy.PLANNED);
             Transformer t = new Transformer(checkpoint, meta, "trace")) {
            try (PlannedRun run = meta.run()) {
                t.allocateCache();
                t.forward(Tokenizer.BOS, 0).close();
            }
            AllocationTrace trace = meta.planner().lastTrace();
            t.freeCache();
            return trace;
        }
    }

    /**
     * The least device memory a decode of this model can hold: {@link #weightBytes()} plus the liveness lower bound
     * of one step's KV cache and activations ({@link #traceStep(Checkpoint)}, 64-byte aligned; traced once per
     * {@link Config} in the JVM).
     */
    public long livenessLowerBound() {
        return weightBytes() + StepRecordings.lowerBound(checkpoint);
    }

    /** Bytes of the model's weights (learnable buffers), the shared classifier counted once. */
    public long weightBytes() {
        long n = 0;
        for (Tensor t : owned) {
            n += t.byteSize();
        }
        return n;
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
        checkStep(token, pos);
        return step(token, pos, null, null);
    }

    /** Checks a step's token and position (for {@link #forward} and {@link CapturedStep#run}). */
    void checkStep(int token, int pos) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new IndexOutOfBoundsException("token " + token + " outside [0, " + c.vocabSize() + ")");
        }
        if (pos < 0 || pos >= c.seqLen()) {
            throw new IndexOutOfBoundsException("position " + pos + " outside [0, seq_len " + c.seqLen() + ")");
        }
    }

    /**
     * One position, the body of {@link #forward} and of a {@link #captureStep() captured step}: with
     * {@code tokenIndex} null, {@code token} and {@code pos} are used as they are; otherwise they are ignored and the
     * step reads them on the device from the one-element I32 tensors {@code tokenIndex} and {@code posIndex}
     * (embedding gather, rope, cache row writes and attention in their tensor-indexed forms), so that its recording
     * can be replayed at any position. Both forms allocate the same shapes in the same order.
     */
    private Tensor step(int token, int pos, Tensor tokenIndex, Tensor posIndex) {
        boolean indexed = tokenIndex != null;
        Tensor x;
        if (indexed) {
            x = own(embedding.gatherRow(tokenIndex));
        } else {
            x = own(ctx.empty(dimShape, DType.F32));
            try (Tensor row = embedding.row(token)) {
                x.copyFrom(row);
            }
        }
        for (int l = 0; l < c.nLayers(); l++) {
            attentionBlock(l, x, pos, posIndex);
            feedForwardBlock(l, x, false);
        }
        Tensor xf = own(x.rmsnorm(rmsFinal, RMS_EPS));
        free(x);
        Tensor logits = own(wcls.matmul(xf));
        free(xf);
        return logits;
    }

    /*
     * The step's two blocks per layer are methods of their own, not the loop's body: run once per layer (nLayers
     * times a step), they reach the JIT's C2 thresholds within the first decodes of a process, and each C2 compile is
     * a fraction of the one of a step with both blocks inlined, which took 0.35-0.7 s of the decoding CPU and, coming
     * only after 10-20 decodes of 512 positions, landed in the timed decodes of a warm compare (docs/benchmarks.md,
     * issue 14, "Round 7"). Same ops in the same order.
     */

    /** Layer {@code l}'s attention block, added into {@code x}: see {@link #step}. */
    private void attentionBlock(int l, Tensor x, int pos, Tensor posIndex) {
        boolean indexed = posIndex != null;
        int hs = c.headSize();
        Tensor xb = own(x.rmsnorm(rmsAtt[l], RMS_EPS));
        // q, k and v as one matrix-vector product with the stacked [dim + 2 kvDim, dim] weight: each row's sum is
        // the one of its own weight's product (same row, same vector), in one kernel call instead of three.
        Tensor qkv = own(wqkv[l].matmul(xb));
        free(xb);
        int dim = c.dim();
        int kvDim = c.kvDim();
        Tensor q = qkv.slice(0, dim);
        Tensor k = qkv.slice(dim, dim + kvDim);
        Tensor v = qkv.slice(dim + kvDim, dim + 2L * kvDim);
        Tensor qr = own(indexed ? q.ropeAt(posIndex, hs) : q.rope(pos, hs));
        free(q);
        Tensor kr = own(indexed ? k.ropeAt(posIndex, hs) : k.rope(pos, hs));
        free(k);
        if (indexed) {
            keyCache[l].scatterRow(posIndex, kr);
            valueCache[l].scatterRow(posIndex, v);
        } else {
            try (Tensor kRow = keyCache[l].row(pos); Tensor vRow = valueCache[l].row(pos)) {
                kRow.copyFrom(kr);
                vRow.copyFrom(v);
            }
        }
        free(kr);
        free(v);
        free(qkv);
        Tensor att = indexed
                ? Tensor.attentionAt(qr, keyCache[l], valueCache[l], c.nHeads(), c.nKvHeads(), hs, posIndex)
                : Tensor.attention(qr, keyCache[l], valueCache[l], c.nHeads(), c.nKvHeads(), hs, pos);
        free(qr);
        Tensor o = own(wo[l].matmul(att));
        free(att);
        x.addInPlace(o);
        free(o);
    }

    /**
     * Layer {@code l}'s SwiGLU feed-forward block, added into {@code x}: one position ({@code x} is {@code [dim]}) or,
     * when {@code rows}, a block of positions ({@code x} is {@code [T, dim]}, prefill).
     */
    private void feedForwardBlock(int l, Tensor x, boolean rows) {
        Tensor xb = own(x.rmsnorm(rmsFfn[l], RMS_EPS));
        Tensor h1;
        Tensor h3;
        Tensor h13 = null;
        if (rows) {
            h1 = own(project(w1[l], xb, true));
            h3 = own(project(w3[l], xb, true));
        } else {
            // one position: w1 and w3 as one matrix-vector product with the stacked [2 hidden, dim] weight
            h13 = own(w13[l].matmul(xb));
            int hidden = c.hiddenDim();
            h1 = h13.slice(0, hidden);
            h3 = h13.slice(hidden, 2L * hidden);
        }
        free(xb);
        Tensor s = own(h1.silu());
        free(h1);
        Tensor g = own(s.mul(h3));
        free(s);
        free(h3);
        if (h13 != null) {
            free(h13);
        }
        Tensor y = own(project(w2[l], g, rows));
        free(g);
        x.addInPlace(y);
        free(y);
    }

    /**
     * A weight {@code w} ({@code [out, in]}, row-major) applied to {@code v}: {@code w @ v} for one position
     * ({@code v} is {@code [in]}, a matrix-vector product), {@code v @ w^T} when {@code rows} ({@code v} is
     * {@code [T, in]}, one GEMM for the block).
     */
    private static Tensor project(Tensor w, Tensor v, boolean rows) {
        return rows ? v.matmul(w, false, true) : w.matmul(v);
    }

    /**
     * Batched prefill: runs the {@code T = tokens.length} prompt tokens at positions {@code startPos..startPos+T-1}
     * through each layer at once as {@code [T, dim]} matrices (GEMMs with the weights instead of GEMVs, causal
     * attention inside the prompt, the keys and values of all {@code T} positions written to rows
     * {@code startPos..startPos+T-1} of the cache in one copy), and returns the logits of the last position, shape
     * {@code [vocabSize]}, which the caller must close. Equivalent to {@link #forward} for each token in turn (up to
     * float rounding of the different summation order).
     *
     * <p>Its activation shapes depend on {@code T}: {@link #recordPrefill(Checkpoint, int)} records them.
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
            Tensor att = Tensor.causalAttention(q, keyCache[l], valueCache[l], c.nHeads(), c.nKvHeads(), hs,
                    startPos);
            free(q);
            Tensor o = own(att.matmul(wo[l], false, true));
            free(att);
            x.addInPlace(o);
            free(o);
            feedForwardBlock(l, x, true);
        }
        Tensor xf;
        try (Tensor last = x.row(t - 1)) {
            xf = own(last.rmsnorm(rmsFinal, RMS_EPS));
        }
        free(x);
        Tensor logits = own(wcls.matmul(xf));
        free(xf);
        return logits;
    }

    /**
     * Records one {@link #prefill} of {@code t} tokens of the checkpoint's model without doing its work, as
     * {@link #recordStep(Checkpoint)} records a decode step: on a context of the {@code meta} device, the KV cache
     * and a prefill of {@code t} tokens run under {@link org.tensorbuffer.memory.TensorBuffer#record(Runnable)}. The
     * plan holds, per shape, the largest number of buffers live at once (the KV cache and every activation, whose
     * shapes depend on {@code t}).
     *
     * @throws IllegalArgumentException if {@code t} is not in {@code [1, seqLen]}
     */
    public static ReservationPlan recordPrefill(Checkpoint checkpoint, int t) {
        return recordPrefill(checkpoint, t, "meta");
    }

    /** As {@link #recordPrefill(Checkpoint, int)} on the device with the given id (the plan is the same). */
    public static ReservationPlan recordPrefill(Checkpoint checkpoint, int t, String deviceId) {
        int[] tokens = prefillTokens(checkpoint.config(), t);
        try (TensorContext meta = TensorContext.create(Devices.get(deviceId), AllocationStrategy.PROACTIVE);
             Transformer m = new Transformer(checkpoint, meta, "record")) {
            return meta.tensorBuffer().record(() -> {
                m.allocateCache();
                m.prefill(tokens, 0).close();
                m.freeCache();
            });
        }
    }

    /**
     * The liveness trace of one {@link #prefill} of {@code t} tokens recorded on the {@code meta} device by the
     * planner (KV cache inside the run, weights outside), as {@link #traceStep(Checkpoint)} for a decode step: its
     * {@link AllocationTrace#lowerBound()} is the least memory besides the weights that any allocator can hold for
     * the prefill.
     *
     * @throws IllegalArgumentException if {@code t} is not in {@code [1, seqLen]}
     */
    public static AllocationTrace tracePrefill(Checkpoint checkpoint, int t) {
        int[] tokens = prefillTokens(checkpoint.config(), t);
        try (TensorContext meta = TensorContext.create(Devices.get("meta"), AllocationStrategy.PLANNED);
             Transformer m = new Transformer(checkpoint, meta, "trace")) {
            try (PlannedRun run = meta.run()) {
                m.allocateCache();
                m.prefill(tokens, 0).close();
            }
            AllocationTrace trace = meta.planner().lastTrace();
            m.freeCache();
            return trace;
        }
    }

    private static int[] prefillTokens(Config c, int t) {
        if (t < 1 || t > c.seqLen()) {
            throw new IllegalArgumentException("prefill of " + t + " tokens: need 1 to seq_len " + c.seqLen());
        }
        int[] tokens = new int[t];
        java.util.Arrays.fill(tokens, Tokenizer.BOS);
        return tokens;
    }

    /**
     * Reserves, for each bucket size {@code T'} of {@code buckets} up to {@code buckets.bucket(maxTokens)}, the
     * buffers of a {@link #prefill} of {@code T'} tokens as {@link #recordPrefill(Checkpoint, int)} records them on
     * the {@code meta} device, topping up shapes already reserved (by {@link #reserve()} or a smaller bucket) to the
     * count needed rather than adding to them ({@link org.tensorbuffer.memory.TensorBuffer#reserve(ReservationPlan)}),
     * since a prefill and a decode step are never live at the same time. With the buckets installed on the context
     * ({@link TensorContext#shapeBuckets(ShapeBuckets)}), every prefill of up to {@code maxTokens} tokens is then
     * served from reservations.
     *
     * @return the reservations made (shape to count added)
     */
    public Map<Shape, Integer> reservePrefill(org.tensorbuffer.memory.ShapeBuckets buckets, int maxTokens) {
        checkOpen();
        Map<Shape, Integer> made = new LinkedHashMap<>();
        if (presetPlan != null) {
            return made; // the preset plan covers the prefill (see reservationPlan)
        }
        long top = buckets.bucket(maxTokens);
        for (long b : buckets.sizes()) {
            if (b > top || b > c.seqLen()) {
                break;
            }
            ReservationPlan plan = recordPrefill(checkpoint, (int) b);
            for (ReservationPlan.Entry en : plan.entries()) {
                int have = ctx.tensorBuffer().reservedCount(en.shape(), en.dtype());
                if (en.count() > have) {
                    made.merge(en.shape(), en.count() - have, Integer::sum);
                }
            }
            ctx.tensorBuffer().reserve(plan);
            reservedPlan = reservedPlan.max(plan);
        }
        return made;
    }

    /**
     * Plans ahead, under {@link org.tensorbuffer.AllocationStrategy#PLANNED}, every prefill of up to
     * {@code maxTokens} tokens by bucket: for each bucket size {@code T'} of {@code buckets} from 2 up to
     * {@code buckets.bucket(maxTokens)} (and at most {@code seqLen}), a prefill of {@code T'} tokens is traced on the
     * {@code meta} device with its tensors at bucket shapes (the KV cache allocated before the run, as
     * {@link Generator} does), planned by the context's planner ({@link org.tensorbuffer.plan.PlannedAllocator#planFor})
     * and cached under {@link #prefillSignature(long) prefillSignature(T')}; then the largest plan is installed, so
     * that the arena is allocated once, at its final size. A prefill of {@code T} tokens run as
     * {@code planCache().run(prefillSignature(buckets.bucket(T)), buckets)} then replays a shared plan from its first
     * run on. One-token prompts are decode steps ({@link #forward}) and need no prefill plan.
     *
     * @return the number of plans made
     * @throws IllegalStateException if the context's strategy is not PLANNED or the model is closed
     */
    public int planPrefill(org.tensorbuffer.memory.ShapeBuckets buckets, int maxTokens) {
        checkOpen();
        if (ctx.strategy() != AllocationStrategy.PLANNED) {
            throw new IllegalStateException("planPrefill needs a PLANNED context, not " + ctx.strategy());
        }
        long top = buckets.bucket(maxTokens);
        org.tensorbuffer.plan.MemoryPlan largest = null;
        int made = 0;
        for (long b : buckets.sizes()) {
            if (b > top || b > c.seqLen()) {
                break;
            }
            if (b < 2) {
                continue;
            }
            org.tensorbuffer.plan.MemoryPlan p = ctx.planner().planFor(traceBucketedPrefill(checkpoint, (int) b,
                    buckets));
            planCache().put(prefillSignature(b), p);
            made++;
            if (largest == null || p.arenaBytes() > largest.arenaBytes()) {
                largest = p;
            }
        }
        if (largest != null) {
            ctx.planner().install(largest);
        }
        return made;
    }

    /** The {@link #planCache()} signature of a prefill of {@code t} tokens, or of the bucket {@code t}. */
    public static String prefillSignature(long t) {
        return "prefill/" + t;
    }

    /**
     * The trace of one prefill of {@code t} tokens as a bucketed PLANNED run records it, on the {@code meta} device:
     * KV cache allocated before the run, tensors at their bucket shapes.
     */
    private static AllocationTrace traceBucketedPrefill(Checkpoint checkpoint, int t,
                                                        org.tensorbuffer.memory.ShapeBuckets buckets) {
        int[] tokens = prefillTokens(checkpoint.config(), t);
        try (TensorContext meta = TensorContext.create(Devices.get("meta"), AllocationStrategy.PLANNED);
             Transformer m = new Transformer(checkpoint, meta, "trace")) {
            m.allocateCache();
            try (org.tensorbuffer.plan.PlanCache.Run run = m.planCache().run(prefillSignature(t), buckets)) {
                m.prefill(tokens, 0).close();
            }
            AllocationTrace trace = meta.planner().lastTrace();
            m.freeCache();
            return trace;
        }
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

    private static Tensor own(Tensor t) {
        return t;
    }

    private static void free(Tensor t) {
        t.close();
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
        views.forEach(Tensor::close);
        owned.forEach(Tensor::close);
    }
}
