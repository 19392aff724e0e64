package org.tensorbuffer.einsum;

import java.util.List;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.ReservationKeying;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.einsum.Contraction.Kind;
import org.tensorbuffer.einsum.Contraction.Prep;
import org.tensorbuffer.einsum.Contraction.Step;

/**
 * Runs a {@link Contraction} on operand tensors: every intermediate is an op result of the operands' context, so the
 * context's allocation strategy serves it, and each operand is closed as soon as its step has consumed it.
 *
 * <p>The evaluator keeps no state between evaluations except a reusable slot array, so the same evaluator (and the
 * same context, whose pool then stays warm) serves every repeat. It also measures the allocator's view of the
 * evaluation: the peak of the bytes held in the blocks of live intermediates and temporaries
 * ({@link org.tensorbuffer.memory.Block#capacity()}, which includes size-class rounding).
 *
 * <p>Not thread-safe: one evaluation at a time.
 */
public final class Evaluator {
    private static final byte BORROWED = 0;
    private static final byte INPUT = 1;
    private static final byte ALLOCATED = 2;

    private final Contraction plan;
    private final Step[] steps;
    private final Tensor[] slots;
    /** Per slot: 0 borrowed (the caller closes it), 1 an owned input, 2 allocated by this evaluation. */
    private final byte[] owned;
    private long liveBytes;
    private long peakLiveBytes;
    private long allocations;
    private long[] stepNanos;

    /** An evaluator for {@code plan}. */
    public Evaluator(Contraction plan) {
        this.plan = plan;
        this.steps = plan.stepArray();
        int n = plan.instance().operandCount();
        this.slots = new Tensor[n + steps.length];
        this.owned = new byte[n + steps.length];
    }

    /** The plan evaluated. */
    public Contraction plan() {
        return plan;
    }

    /**
     * Contracts {@code inputs} (operand {@code k} has the instance's shape {@code k}, F64, all in one context) and
     * returns the result in output-label order; the caller closes it.
     *
     * @param inputs      the operands
     * @param closeInputs whether each input is closed once consumed (the evaluation owns them); otherwise they are
     *                    left open for another evaluation
     * @throws IllegalArgumentException if the operand count or a shape does not match the instance
     */
    public Tensor evaluate(List<Tensor> inputs, boolean closeInputs) {
        Instance inst = plan.instance();
        int n = inst.operandCount();
        if (inputs.size() != n) {
            throw new IllegalArgumentException(inst.name() + " needs " + n + " operands, got " + inputs.size());
        }
        for (int k = 0; k < n; k++) {
            Tensor t = inputs.get(k);
            if (!java.util.Arrays.equals(t.shape().dims(), inst.shape(k))) {
                throw new IllegalArgumentException(inst.name() + ": operand " + k + " has shape " + t.shape()
                        + ", expected " + java.util.Arrays.toString(inst.shape(k)));
            }
            slots[k] = t;
            owned[k] = closeInputs ? INPUT : BORROWED;
        }
        liveBytes = 0;
        peakLiveBytes = 0;
        allocations = 0;
        try {
            if (stepNanos == null) {
                for (Step s : steps) {
                    run(s);
                }
            } else {
                for (int i = 0; i < steps.length; i++) {
                    long t0 = System.nanoTime();
                    run(steps[i]);
                    stepNanos[i] = System.nanoTime() - t0;
                }
            }
            int last = plan.resultSlot();
            Tensor r = slots[last];
            byte own = owned[last];
            slots[last] = null;
            Prep fp = plan.finalPrep();
            if (fp != null) {
                Tensor f = prep(r, fp);
                release(r, own);
                r = f;
            } else if (own == BORROWED) {
                // The result is an input the caller keeps: hand out a copy.
                r = tracked(r.gather(r.shape(), r.shape().strides()));
            }
            return r;
        } catch (RuntimeException e) {
            for (int i = 0; i < slots.length; i++) {
                if (slots[i] != null && owned[i] != BORROWED && !slots[i].isClosed()) {
                    slots[i].close();
                }
                slots[i] = null;
            }
            throw e;
        }
    }

    private void run(Step s) {
        Tensor a = slots[s.a()];
        byte ownA = owned[s.a()];
        slots[s.a()] = null;
        if (s.kind() == Kind.UNARY) {
            if (s.prepA().isIdentity()) {
                slots[s.out()] = a;
                owned[s.out()] = ownA;
                return;
            }
            Tensor r = prep(a, s.prepA());
            release(a, ownA);
            slots[s.out()] = r;
            owned[s.out()] = ALLOCATED;
            return;
        }
        Tensor b = slots[s.b()];
        byte ownB = owned[s.b()];
        slots[s.b()] = null;
        Tensor pa = prep(a, s.prepA());
        Tensor pb = prep(b, s.prepB());
        Tensor p = s.swap() ? pb : pa;
        Tensor q = s.swap() ? pa : pb;
        Tensor r;
        if (s.kind() == Kind.MUL) {
            r = tracked(p.mul(q));
        } else if (s == steps[steps.length - 1] && plan.stridedOutput() != null) {
            r = tracked(stridedGemm(p, q, s, plan.stridedOutput()));
        } else {
            r = tracked(p.bmm(q, s.batch(), s.m(), s.n(), s.k(), s.transP(), s.transQ(), s.outShape()));
        }
        if (pa != a) {
            release(pa, ALLOCATED);
        }
        if (pb != b) {
            release(pb, ALLOCATED);
        }
        release(a, ownA);
        release(b, ownB);
        slots[s.out()] = r;
        owned[s.out()] = ALLOCATED;
    }

    /**
     * The last step written straight into the output (see {@link Contraction.StridedOutput}): one GEMM per loop
     * index, each into its block of the output.
     */
    private Tensor stridedGemm(Tensor p, Tensor q, Step s, Contraction.StridedOutput so) {
        Tensor c = p.context().empty(plan.outputShape(), DType.F64);
        try {
            org.tensorbuffer.device.Kernels kern = c.device().kernels();
            int k = Math.toIntExact(s.k());
            int lda = Math.toIntExact(Math.max(1, s.transP() ? s.m() : s.k()));
            int ldb = Math.toIntExact(Math.max(1, s.transQ() ? s.k() : s.n()));
            long[] dims = so.loopDims();
            int[] idx = new int[dims.length];
            long loops = so.loops();
            long es = DType.F64.byteSize();
            for (long i = 0; i < loops; i++) {
                long po = 0;
                long qo = 0;
                long co = 0;
                for (int a = 0; a < dims.length; a++) {
                    po += idx[a] * so.pStrides()[a];
                    qo += idx[a] * so.qStrides()[a];
                    co += idx[a] * so.cStrides()[a];
                }
                kern.gemm(DType.F64, s.transP(), s.transQ(), so.mInner(), so.nInner(), k, 1.0, p.buffer(),
                        p.byteOffset() + po * es, lda, q.buffer(), q.byteOffset() + qo * es, ldb, 0.0, c.buffer(),
                        c.byteOffset() + co * es, so.ldc());
                for (int a = dims.length - 1; a >= 0; a--) {
                    if (++idx[a] < dims[a]) {
                        break;
                    }
                    idx[a] = 0;
                }
            }
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Applies a preparation; returns {@code x} itself for the identity. */
    private Tensor prep(Tensor x, Prep p) {
        Tensor t = x;
        if (p.gatherShape() != null) {
            t = tracked(x.gather(p.gatherShape(), p.gatherStrides()));
        }
        if (p.sumAxes() > 0) {
            Tensor s = tracked(t.sumLastAxes(p.sumAxes()));
            if (t != x) {
                release(t, ALLOCATED);
            }
            t = s;
        }
        return t;
    }

    private Tensor tracked(Tensor t) {
        allocations++;
        liveBytes += t.block().capacity();
        if (liveBytes > peakLiveBytes) {
            peakLiveBytes = liveBytes;
        }
        return t;
    }

    private void release(Tensor t, byte own) {
        if (own == ALLOCATED) {
            liveBytes -= t.block().capacity();
        }
        if (own != BORROWED) {
            t.close();
        }
    }

    /**
     * Peak over the last evaluation of the block bytes of its live allocations (intermediates and temporaries; the
     * inputs are not counted), as the allocator holds them.
     */
    public long peakLiveBytes() {
        return peakLiveBytes;
    }

    /** Turns the per-step timing of {@link #stepNanos()} on or off (off by default). */
    public void timeSteps(boolean on) {
        stepNanos = on ? new long[steps.length] : null;
    }

    /** Nanoseconds each step took in the last evaluation (a copy), or {@code null} when step timing is off. */
    public long[] stepNanos() {
        return stepNanos == null ? null : stepNanos.clone();
    }

    /**
     * Records one evaluation of {@code plan} without doing its work, on a context of the {@code meta} device under the
     * PROACTIVE strategy: the operands are allocated before the recording, the evaluation (intermediates, GEMM
     * temporaries and the result, closed at the end) runs under
     * {@link org.tensorbuffer.memory.TensorBuffer#record(Runnable)}. The plan holds, per key, the largest number of
     * buffers live at once, for {@code TensorBuffer.reserve(plan)} before real evaluations; its keying is the one of
     * the three that reserves the fewest bytes ({@link #recordEvaluation(Contraction, String)}), and an empty
     * TensorBuffer reserving it takes that keying.
     */
    public static ReservationPlan recordEvaluation(Contraction plan) {
        return recordEvaluation(plan, "meta");
    }

    /**
     * As {@link #recordEvaluation(Contraction)} on the device with the given id (the plan is the same): the evaluation
     * is recorded once per {@link ReservationKeying} and the plan with the fewest bytes is returned (the first of
     * SHAPE, ELEMENTS, SIZE_CLASS on a tie). No keying is best for every instance: on the 14 einsum instances
     * (docs/benchmarks.md, "Einsum: peak reserved bytes against the liveness lower bound") exact shapes reserve least
     * on gm_queen5_5_3 and the closed MERA, element counts on the language-model instances, size classes on the
     * matrix chain, the MPS and the open MERA (41x the lower bound with exact shapes, 5.9x by size class). Recording
     * on {@code meta} costs no memory and little time, so recording three times is cheap.
     */
    public static ReservationPlan recordEvaluation(Contraction plan, String deviceId) {
        ReservationPlan best = null;
        for (ReservationKeying k : ReservationKeying.values()) {
            ReservationPlan p = recordEvaluation(plan, deviceId, k);
            if (best == null || p.totalBytes() < best.totalBytes()) {
                best = p;
            }
        }
        return best;
    }

    /**
     * As {@link #recordEvaluation(Contraction, String)} with the recording TensorBuffer keyed by {@code keying}: the
     * plan's keys are of that keying, and reserving it makes an empty TensorBuffer take the same keying.
     */
    public static ReservationPlan recordEvaluation(Contraction plan, String deviceId, ReservationKeying keying) {
        Instance inst = plan.instance();
        try (TensorContext ctx = TensorContext.create(Devices.get(deviceId), AllocationStrategy.PROACTIVE)) {
            ctx.tensorBuffer().keying(keying);
            List<Tensor> ops = new java.util.ArrayList<>();
            for (int k = 0; k < inst.operandCount(); k++) {
                ops.add(ctx.zeros(Shape.of(inst.shape(k)), DType.F64));
            }
            Evaluator ev = new Evaluator(plan);
            ReservationPlan r = ctx.tensorBuffer().record(() -> ev.evaluate(ops, false).close());
            ops.forEach(Tensor::close);
            return r;
        }
    }

    /** Allocations (op results) made by the last evaluation. */
    public long allocations() {
        return allocations;
    }
}
