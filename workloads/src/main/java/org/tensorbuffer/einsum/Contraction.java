package org.tensorbuffer.einsum;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The plan of one contraction path of an {@link Instance}, computed once and reused by every evaluation: for each
 * pairwise step, which operands it takes, how each is prepared, and the batched GEMM that contracts them.
 *
 * <h2>Rules</h2>
 * A label is kept in a step's result when it appears in another remaining operand or in the output. For a pair
 * (A, B) the labels fall into
 * <ul>
 *   <li>batch (Hadamard) labels: in A and B, kept;</li>
 *   <li>contracted labels: in A and B, not kept;</li>
 *   <li>left labels of A (of B): only in A (only in B), kept;</li>
 *   <li>labels only in one operand and not kept: summed out of that operand first
 *       ({@link org.tensorbuffer.Tensor#sumLastAxes}), and a label repeated inside one operand (a trace or diagonal)
 *       is read with the sum of its axes' strides ({@link org.tensorbuffer.Tensor#gather}).</li>
 * </ul>
 * The product is {@code C[batch, rows, cols] = sum_k P[batch, rows, k] Q[batch, k, cols]} with P, Q = A, B or B, A:
 * permute, reshape (free: the GEMM reads the flat memory), batched GEMM, and the result, whose labels are
 * {@code batch, left(P), left(Q)}, is already the intermediate (no reshape copy). An outer product is the GEMM with
 * {@code k = 1}, a full contraction the one with {@code m = n = 1}, a step with only batch labels an elementwise
 * product ({@link org.tensorbuffer.Tensor#mul}), a scalar result a shape {@code []}.
 *
 * <h2>Choosing layouts</h2>
 * An intermediate's label order is free, so the planner picks, per step, the order of each label group (as it lies
 * in A, in B, or in the output for the last step) and which operand is P, so that as few elements as possible are
 * permuted: an operand already laid out as {@code [batch, rows, k]} or {@code [batch, k, rows]} is passed to the GEMM
 * as it is, with the transpose flag of the second form (the same for Q). Only the last step aims for the output
 * order; if it cannot reach it, one final permute does.
 *
 * <p>The plan also gives the allocation {@link #schedule()} of an evaluation, from which the allocation profile,
 * the liveness lower bound and the proactive reservations are derived. Immutable and thread-safe.
 */
public final class Contraction {

    /** What a step computes. */
    public enum Kind {
        /** Batched GEMM ({@link org.tensorbuffer.Tensor#bmm}). */
        GEMM,
        /** Elementwise product: every label is a batch label. */
        MUL,
        /** A single operand: diagonal, sum over labels nobody else has, or nothing (the operand passes through). */
        UNARY
    }

    /**
     * Preparation of one operand: a gather (permute, diagonal) into {@code gatherShape} with element strides
     * {@code gatherStrides} (absent if {@code gatherShape} is {@code null}), then a sum over the last
     * {@code sumAxes} axes (none if 0) giving {@code sumShape}.
     */
    public record Prep(Shape gatherShape, long[] gatherStrides, int sumAxes, Shape sumShape) {
        /** Whether the operand is used as it is. */
        public boolean isIdentity() {
            return gatherShape == null && sumAxes == 0;
        }
    }

    /**
     * One step: operand slots {@code a} and {@code b} (inputs are slots {@code 0..n-1}, the result of step
     * {@code s} is slot {@code n + s}; {@code b == -1} for a unary step), their preparations, the GEMM sizes and
     * flags (for P and Q, where P is B when {@code swap}), and the result's shape and labels.
     */
    public record Step(int a, int b, int out, Prep prepA, Prep prepB, Kind kind, boolean swap, long batch, long m,
                       long n, long k, boolean transP, boolean transQ, Shape outShape, int[] outLabels) {
    }

    /**
     * One allocation of an evaluation, in order: its shape, exact bytes, whether it is a step result (an
     * intermediate) rather than a temporary (a permuted, diagonal or summed copy of an operand), the index of the
     * step that makes it, and the index of the step after which it is freed.
     */
    public record Allocation(Shape shape, long bytes, boolean intermediate, int step, int freedAfter) {
    }

    /**
     * The last GEMM step writing the output directly, in the output's label order, instead of a result that one final
     * permute reorders: {@code loops} sub-GEMMs of {@code mInner x nInner} (the last step's k), sub-GEMM {@code i}
     * reading P and Q at element offsets {@code pOffset(i)}, {@code qOffset(i)} and writing C (the output) at
     * {@code cOffset(i)} with row stride {@code ldc}; the loop index is row-major over {@code loopDims}, each loop axis
     * moving P, Q and C by {@code pStrides}, {@code qStrides}, {@code cStrides} elements. Possible when the output's
     * innermost labels are a run of Q's innermost left labels and, above them at one row stride, a run of P's
     * innermost left labels (the other labels are the loops): e.g. the open MERA's last step, whose 344 MB result
     * the final permute otherwise copies once more.
     */
    record StridedOutput(long[] loopDims, long[] pStrides, long[] qStrides, long[] cStrides, int mInner, int nInner,
                         int ldc) {
        /** Number of sub-GEMMs. */
        long loops() {
            long n = 1;
            for (long d : loopDims) {
                n *= d;
            }
            return n;
        }
    }

    /** Sub-GEMMs narrower than this are not worth writing the output directly (the final permute stays). */
    static final int MIN_STRIDED_COLUMNS = 16;
    /** More sub-GEMMs than this are not worth it either. */
    static final long MAX_STRIDED_LOOPS = 1 << 14;

    private final Instance instance;
    private final String pathName;
    private final StridedOutput stridedOutput;
    private final Step[] steps;
    private final Prep finalPrep;
    private final Shape outputShape;
    private final List<Allocation> schedule;

    private Contraction(Instance instance, String pathName, Step[] steps, Prep finalPrep, Shape outputShape,
                        List<Allocation> schedule, StridedOutput stridedOutput) {
        this.stridedOutput = stridedOutput;
        this.instance = instance;
        this.pathName = pathName;
        this.steps = steps;
        this.finalPrep = finalPrep;
        this.outputShape = outputShape;
        this.schedule = schedule;
    }

    /** The instance planned. */
    public Instance instance() {
        return instance;
    }

    /** The path's name. */
    public String pathName() {
        return pathName;
    }

    /** The steps (the array itself; do not modify). */
    Step[] stepArray() {
        return steps;
    }

    /** The steps, in order. */
    public List<Step> steps() {
        return List.of(steps);
    }

    /** Permute to the output order after the last step, or {@code null} if the last step's result is the output. */
    public Prep finalPrep() {
        return finalPrep;
    }

    /**
     * How the last step writes the output directly (then {@link #finalPrep()} is {@code null}), or {@code null} when
     * it makes its result as usual.
     */
    StridedOutput stridedOutput() {
        return stridedOutput;
    }

    /** Shape of the result (output-label order). */
    public Shape outputShape() {
        return outputShape;
    }

    /** Every allocation an evaluation makes, in order (inputs are not allocations of the evaluation). */
    public List<Allocation> schedule() {
        return schedule;
    }

    /** Slot of the result before the final permute. */
    int resultSlot() {
        return steps.length == 0 ? 0 : steps[steps.length - 1].out();
    }

    /**
     * Plans the named path of {@code instance}.
     *
     * @throws IllegalArgumentException if the instance has no such path
     */
    public static Contraction plan(Instance instance, String pathName) {
        return plan(instance, pathName, instance.path(pathName));
    }

    /** Plans an explicit linear path (positions in the current operand list, as in the instance files). */
    public static Contraction plan(Instance instance, String pathName, int[][] path) {
        // Pass 1 plans each step for itself; later passes also aim each result at the layout its consumer wanted,
        // which removes the consumer's permute when that layout is one a GEMM can produce. The plan with the fewest
        // permuted elements wins.
        Planner first = new Planner(instance, java.util.Map.of());
        Contraction best = first.run(pathName, path);
        long bestCost = best.permutedElements();
        java.util.Map<Integer, int[]> hints = first.wanted;
        for (int pass = 0; pass < 3 && !hints.isEmpty(); pass++) {
            Planner next = new Planner(instance, hints);
            Contraction c = next.run(pathName, path);
            long cost = c.permutedElements();
            if (cost >= bestCost) {
                break;
            }
            best = c;
            bestCost = cost;
            hints = next.wanted;
        }
        return best;
    }

    /** Elements copied by the plan's gathers (permutes and diagonals), a measure of its data movement. */
    public long permutedElements() {
        long n = 0;
        for (Step s : steps) {
            for (Prep p : new Prep[] {s.prepA(), s.prepB()}) {
                if (p != null && p.gatherShape() != null) {
                    n += p.gatherShape().elementCount();
                }
            }
        }
        if (finalPrep != null && finalPrep.gatherShape() != null) {
            n += finalPrep.gatherShape().elementCount();
        }
        return n;
    }

    /** Plans the steps and simulates the allocations. */
    private static final class Planner {
        final Instance inst;
        final int labels;
        final int[] count; // number of current operands holding each label
        final boolean[] inOutput;
        final List<int[]> opLabels = new ArrayList<>();
        final List<Integer> opSlot = new ArrayList<>();
        final List<Allocation> schedule = new ArrayList<>();
        // allocation bookkeeping: index in schedule of the tensor held in each slot (-1 for inputs)
        int[] slotAlloc;
        /** Layouts wanted by the previous pass's consumers, by slot. */
        final java.util.Map<Integer, int[]> hints;
        /** Layouts this pass's steps permuted their intermediate operands into, by slot. */
        final java.util.Map<Integer, int[]> wanted = new java.util.HashMap<>();

        Planner(Instance inst, java.util.Map<Integer, int[]> hints) {
            this.hints = hints;
            this.inst = inst;
            this.labels = inst.labelCount();
            this.count = new int[labels];
            this.inOutput = new boolean[labels];
            for (int l : inst.output()) {
                inOutput[l] = true;
            }
        }

        Contraction run(String pathName, int[][] path) {
            int n = inst.operandCount();
            slotAlloc = new int[n + path.length];
            Arrays.fill(slotAlloc, -1);
            for (int k = 0; k < n; k++) {
                int[] t = inst.term(k);
                opLabels.add(t);
                opSlot.add(k);
                addCounts(t, +1);
            }
            Step[] steps = new Step[path.length];
            for (int s = 0; s < path.length; s++) {
                int[] st = path[s];
                if (st.length == 1) {
                    steps[s] = unaryStep(s, n + s, st[0]);
                } else {
                    steps[s] = pairStep(s, n + s, st[0], st[1], s == path.length - 1);
                }
            }
            if (opLabels.size() != 1) {
                throw new IllegalArgumentException("path '" + pathName + "' of " + inst.name() + " leaves "
                        + opLabels.size() + " operands");
            }
            int[] last = opLabels.get(0);
            int[] out = inst.output();
            Prep finalPrep = null;
            Shape outShape = Shape.of(inst.outputShape());
            StridedOutput strided = null;
            if (path.length > 0 && !Arrays.equals(last, out)) {
                strided = stridedOutput(steps[path.length - 1], out);
            }
            if (strided != null) {
                // the last step's result is the output itself: same bytes, the output's shape
                int r = slotAlloc[steps[path.length - 1].out()];
                Allocation a = schedule.get(r);
                schedule.set(r, new Allocation(outShape, a.bytes(), a.intermediate(), a.step(), a.freedAfter()));
            } else if (!Arrays.equals(last, out)) {
                finalPrep = unaryPrep(last, out, new int[0]);
                int step = path.length;
                if (finalPrep.gatherShape() != null) {
                    int g = alloc(finalPrep.gatherShape(), false, step);
                    if (finalPrep.sumAxes() > 0) {
                        free(g, step);
                    }
                }
                if (finalPrep.sumAxes() > 0) {
                    alloc(finalPrep.sumShape(), false, step);
                }
                // The operand the final prep read is freed after it (if it was allocated by the evaluation).
                free(slotAlloc[opSlot.get(0)], step);
            } else if (path.length == 0) {
                // A lone input that is already the output: the evaluation copies it (see Evaluator).
                alloc(outShape, false, 0);
            }
            return new Contraction(inst, pathName, steps, finalPrep, outShape, List.copyOf(schedule), strided);
        }

        /**
         * The {@link StridedOutput} of the last step {@code st} into the output labels {@code out}, or {@code null}
         * when the output is not a permutation of its result or the sub-GEMMs would be too narrow or too many.
         */
        private StridedOutput stridedOutput(Step st, int[] out) {
            int[] lab = st.outLabels();
            if (st.kind() != Kind.GEMM || lab.length != out.length || unique(lab).length != lab.length) {
                return null;
            }
            long[] outStride = new long[labels];
            long acc = 1;
            for (int i = out.length - 1; i >= 0; i--) {
                if (!contains(lab, out[i])) {
                    return null;
                }
                outStride[out[i]] = acc;
                acc *= inst.labelDim(out[i]);
            }
            // the result's axes: batch, then P's left labels (m), then Q's left labels (n)
            int nb = 0;
            for (long p = 1; nb < lab.length && p < st.batch(); nb++) {
                p *= inst.labelDim(lab[nb]);
            }
            int np = nb;
            for (long p = 1; np < lab.length && p < st.m(); np++) {
                p *= inst.labelDim(lab[np]);
            }
            // innermost run of Q's labels at stride 1, then P's at one row stride ldc
            int qEnd = lab.length;
            long nInner = 1;
            int qi = qEnd - 1;
            for (; qi >= np; qi--) {
                long d = inst.labelDim(lab[qi]);
                if (d != 1 && outStride[lab[qi]] != nInner) {
                    break;
                }
                nInner *= d;
            }
            long ldc = nInner;
            int pi = np - 1;
            long mInner = 1;
            for (int i = np - 1; i >= nb; i--) {
                if (inst.labelDim(lab[i]) != 1) {
                    ldc = outStride[lab[i]];
                    break;
                }
            }
            for (; pi >= nb; pi--) {
                long d = inst.labelDim(lab[pi]);
                if (d != 1 && outStride[lab[pi]] != ldc * mInner) {
                    break;
                }
                mInner *= d;
            }
            if (nInner < MIN_STRIDED_COLUMNS || ldc > Integer.MAX_VALUE || mInner > Integer.MAX_VALUE) {
                return null;
            }
            // loop axes: the batch labels and the leading left labels of P (0..pi) and Q (np..qi)
            List<long[]> loops = new ArrayList<>(); // {dim, pStride, qStride, cStride}
            long m = st.m();
            long n = st.n();
            long k = st.k();
            long within = 1;
            for (int i = nb - 1; i >= 0; i--) {
                loops.add(0, new long[] {inst.labelDim(lab[i]), within * m * k, within * k * n, outStride[lab[i]]});
                within *= inst.labelDim(lab[i]);
            }
            within = mInner;
            for (int i = pi; i >= nb; i--) {
                long rowOffset = within;
                loops.add(nb, new long[] {inst.labelDim(lab[i]), st.transP() ? rowOffset : rowOffset * k, 0,
                        outStride[lab[i]]});
                within *= inst.labelDim(lab[i]);
            }
            within = nInner;
            int qAt = loops.size();
            for (int i = qi; i >= np; i--) {
                long colOffset = within;
                loops.add(qAt, new long[] {inst.labelDim(lab[i]), 0, st.transQ() ? colOffset * k : colOffset,
                        outStride[lab[i]]});
                within *= inst.labelDim(lab[i]);
            }
            long count = 1;
            for (long[] l : loops) {
                count *= l[0];
            }
            if (count > MAX_STRIDED_LOOPS) {
                return null;
            }
            long[] dims = new long[loops.size()];
            long[] ps = new long[loops.size()];
            long[] qs = new long[loops.size()];
            long[] cs = new long[loops.size()];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = loops.get(i)[0];
                ps[i] = loops.get(i)[1];
                qs[i] = loops.get(i)[2];
                cs[i] = loops.get(i)[3];
            }
            return new StridedOutput(dims, ps, qs, cs, (int) mInner, (int) nInner, (int) ldc);
        }

        private void addCounts(int[] t, int delta) {
            for (int i = 0; i < t.length; i++) {
                boolean first = true;
                for (int j = 0; j < i; j++) {
                    if (t[j] == t[i]) {
                        first = false;
                        break;
                    }
                }
                if (first) {
                    count[t[i]] += delta;
                }
            }
        }

        private int alloc(Shape shape, boolean intermediate, int step) {
            schedule.add(new Allocation(shape, shape.byteSize(DType.F64), intermediate, step, -1));
            return schedule.size() - 1;
        }

        private void free(int index, int step) {
            if (index >= 0) {
                Allocation a = schedule.get(index);
                schedule.set(index, new Allocation(a.shape(), a.bytes(), a.intermediate(), a.step(), step));
            }
        }

        private long dimsProduct(int[] ls) {
            long p = 1;
            for (int l : ls) {
                p *= inst.labelDim(l);
            }
            return p;
        }

        private Shape shapeOf(int[] ls) {
            long[] d = new long[ls.length];
            for (int i = 0; i < ls.length; i++) {
                d[i] = inst.labelDim(ls[i]);
            }
            return Shape.of(d);
        }

        private static boolean contains(int[] ls, int l) {
            for (int x : ls) {
                if (x == l) {
                    return true;
                }
            }
            return false;
        }

        /** Unique labels of {@code t} in order of first appearance. */
        private static int[] unique(int[] t) {
            int[] u = new int[t.length];
            int c = 0;
            for (int l : t) {
                if (!contains(Arrays.copyOf(u, c), l)) {
                    u[c++] = l;
                }
            }
            return Arrays.copyOf(u, c);
        }

        /** Element strides of each label of {@code t} in a row-major tensor with labels {@code t} (summed over repeats). */
        private long labelStride(int[] t, int label) {
            long stride = 1;
            long s = 0;
            for (int i = t.length - 1; i >= 0; i--) {
                if (t[i] == label) {
                    s += stride;
                }
                stride *= inst.labelDim(t[i]);
            }
            return s;
        }

        /**
         * The preparation that turns an operand with labels {@code t} into one with labels {@code order} (each once)
         * followed by nothing: labels of {@code t} not in {@code order} are {@code summed} (listed in that array).
         */
        private Prep unaryPrep(int[] t, int[] order, int[] summedHint) {
            int[] u = unique(t);
            List<Integer> summed = new ArrayList<>();
            for (int l : u) {
                if (!contains(order, l)) {
                    summed.add(l);
                }
            }
            boolean repeats = u.length != t.length;
            // Without repeats, labels already as [order..., summed...] need no gather.
            int[] target = new int[order.length + summed.size()];
            System.arraycopy(order, 0, target, 0, order.length);
            for (int i = 0; i < summed.size(); i++) {
                target[order.length + i] = summed.get(i);
            }
            boolean inPlace = !repeats && Arrays.equals(Arrays.copyOf(t, order.length), order)
                    && t.length == target.length;
            Shape gShape = null;
            long[] gStrides = null;
            if (!inPlace) {
                gShape = shapeOf(target);
                gStrides = new long[target.length];
                for (int i = 0; i < target.length; i++) {
                    gStrides[i] = labelStride(t, target[i]);
                }
            }
            return new Prep(gShape, gStrides, summed.size(), summed.isEmpty() ? null : shapeOf(order));
        }

        private Step unaryStep(int s, int outSlot, int pos) {
            int[] t = opLabels.remove(pos);
            int slot = opSlot.remove(pos);
            addCounts(t, -1);
            int[] keep = keptOf(unique(t), null);
            Prep prep = unaryPrep(t, keep, null);
            Shape outShape = shapeOf(keep);
            if (prep.isIdentity()) {
                slotAlloc[outSlot] = slotAlloc[slot];
            } else {
                int g = -1;
                if (prep.gatherShape() != null) {
                    g = alloc(prep.gatherShape(), prep.sumAxes() == 0, s);
                    slotAlloc[outSlot] = g;
                }
                if (prep.sumAxes() > 0) {
                    free(g, s);
                    slotAlloc[outSlot] = alloc(prep.sumShape(), true, s);
                }
                free(slotAlloc[slot], s);
            }
            opLabels.add(keep);
            opSlot.add(outSlot);
            addCounts(keep, +1);
            return new Step(slot, -1, outSlot, prep, null, Kind.UNARY, false, 1, 1, 1, 1, false, false, outShape,
                    keep);
        }

        /** Labels of {@code ls} (unique) that another current operand or the output holds, excluding {@code also}. */
        private int[] keptOf(int[] ls, int[] unused) {
            int[] r = new int[ls.length];
            int c = 0;
            for (int l : ls) {
                if (count[l] > 0 || inOutput[l]) {
                    r[c++] = l;
                }
            }
            return Arrays.copyOf(r, c);
        }

        private Step pairStep(int s, int outSlot, int posA, int posB, boolean last) {
            int hi = Math.max(posA, posB);
            int lo = Math.min(posA, posB);
            int[] tHi = opLabels.remove(hi);
            int sHi = opSlot.remove(hi);
            int[] tLo = opLabels.remove(lo);
            int sLo = opSlot.remove(lo);
            int[] ta = posA < posB ? tLo : tHi;
            int[] tb = posA < posB ? tHi : tLo;
            int slotA = posA < posB ? sLo : sHi;
            int slotB = posA < posB ? sHi : sLo;
            addCounts(ta, -1);
            addCounts(tb, -1);
            int[] ua = unique(ta);
            int[] ub = unique(tb);
            // effective labels: those the other operand has or somebody keeps
            int[] ea = filter(ua, l -> contains(ub, l) || count[l] > 0 || inOutput[l]);
            int[] eb = filter(ub, l -> contains(ua, l) || count[l] > 0 || inOutput[l]);
            boolean prepA = ea.length != ta.length || ua.length != ta.length;
            boolean prepB = eb.length != tb.length || ub.length != tb.length;
            boolean gatherA = needsGather(ta, ea);
            boolean gatherB = needsGather(tb, eb);
            java.util.function.IntPredicate kept = l -> count[l] > 0 || inOutput[l];
            int[] batchA = filter(ea, l -> contains(eb, l) && kept.test(l));
            int[] batchB = filter(eb, l -> contains(ea, l) && kept.test(l));
            int[] conA = filter(ea, l -> contains(eb, l) && !kept.test(l));
            int[] conB = filter(eb, l -> contains(ea, l) && !kept.test(l));
            int[] leftA = filter(ea, l -> !contains(eb, l));
            int[] leftB = filter(eb, l -> !contains(ea, l));
            int[] out = inst.output();
            int[] hint = hints.get(outSlot);
            int[] target = last ? out : hint;
            List<int[]> batchOrders = distinct(batchA, batchB,
                    target != null ? filter(target, l -> contains(batchA, l)) : null);
            List<int[]> conOrders = distinct(conA, conB, null);
            List<int[]> leftAOrders = distinct(leftA, target != null ? filter(target, l -> contains(leftA, l)) : null,
                    null);
            List<int[]> leftBOrders = distinct(leftB, target != null ? filter(target, l -> contains(leftB, l)) : null,
                    null);
            long elemsA = dimsProduct(ea);
            long elemsB = dimsProduct(eb);

            long bestCost = Long.MAX_VALUE;
            long bestRows = Long.MAX_VALUE;
            boolean bestAligned = false;
            int[] bestP = null;
            int[] bestQ = null;
            int[] bestOut = null;
            boolean bestSwap = false;
            boolean bestTP = false;
            boolean bestTQ = false;
            for (int sw = 0; sw < 2; sw++) {
                boolean swap = sw == 1;
                int[] ep = swap ? eb : ea;
                int[] eq = swap ? ea : eb;
                boolean gp = swap ? gatherB : gatherA;
                boolean gq = swap ? gatherA : gatherB;
                long elP = swap ? elemsB : elemsA;
                long elQ = swap ? elemsA : elemsB;
                for (int[] bo : batchOrders) {
                    for (int[] co : conOrders) {
                        for (int[] lao : leftAOrders) {
                            for (int[] lbo : leftBOrders) {
                                int[] lp = swap ? lbo : lao;
                                int[] lq = swap ? lao : lbo;
                                int[] o = concat(bo, lp, lq);
                                long outCost = target != null && !Arrays.equals(o, target) ? dimsProduct(o) : 0;
                                // P is [bo, lp, co] (no transpose) or [bo, co, lp] (transposed); Q is [bo, co, lq]
                                // or [bo, lq, co]. An operand in neither layout is permuted into one of them.
                                int[][] pForms = {concat(bo, lp, co), concat(bo, co, lp)};
                                int[][] qForms = {concat(bo, co, lq), concat(bo, lq, co)};
                                for (int fp = 0; fp < 2; fp++) {
                                    for (int fq = 0; fq < 2; fq++) {
                                        boolean keepP = Arrays.equals(ep, pForms[fp]);
                                        boolean keepQ = Arrays.equals(eq, qForms[fq]);
                                        if ((!keepP && Arrays.equals(ep, pForms[1 - fp]))
                                                || (!keepQ && Arrays.equals(eq, qForms[1 - fq]))) {
                                            continue; // the other form keeps it: never permute then
                                        }
                                        long cost = outCost + (keepP || gp ? 0 : elP) + (keepQ || gq ? 0 : elQ);
                                        // Tie-break: fewest contiguous runs to copy in the permutes.
                                        long rows = (keepP ? 0 : elP / run(ep, pForms[fp]))
                                                + (keepQ ? 0 : elQ / run(eq, qForms[fq]));
                                        // Last step that needs a final permute anyway: on a tie, left labels
                                        // in the output's order, so that the GEMM can write the output
                                        // directly (see StridedOutput).
                                        boolean aligned = last && outCost > 0
                                                && Arrays.equals(lp, filter(target, l -> contains(lp, l)))
                                                && Arrays.equals(lq, filter(target, l -> contains(lq, l)));
                                        if (cost < bestCost || (cost == bestCost && aligned && !bestAligned)
                                                || (cost == bestCost && aligned == bestAligned && rows < bestRows)) {
                                            bestCost = cost;
                                            bestRows = rows;
                                            bestAligned = aligned;
                                            bestP = pForms[fp];
                                            bestQ = qForms[fq];
                                            bestOut = o;
                                            bestSwap = swap;
                                            bestTP = fp == 1;
                                            bestTQ = fq == 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            int[] layoutA = bestSwap ? bestQ : bestP;
            int[] layoutB = bestSwap ? bestP : bestQ;
            if (!gatherA && !Arrays.equals(layoutA, ea) && ea.length == ta.length) {
                wanted.put(slotA, layoutA);
            }
            if (!gatherB && !Arrays.equals(layoutB, eb) && eb.length == tb.length) {
                wanted.put(slotB, layoutB);
            }
            Prep pa = prepare(ta, layoutA, prepA || !Arrays.equals(layoutA, ea));
            Prep pb = prepare(tb, layoutB, prepB || !Arrays.equals(layoutB, eb));
            int[] lpFinal = bestSwap ? leftB : leftA;
            int[] lqFinal = bestSwap ? leftA : leftB;
            int[] boFinal = Arrays.copyOf(bestOut, batchA.length);
            long batch = dimsProduct(boFinal);
            long m = dimsProduct(filter(bestOut, l -> contains(lpFinal, l)));
            long nn = dimsProduct(filter(bestOut, l -> contains(lqFinal, l)));
            long k = dimsProduct(conA);
            Kind kind = leftA.length == 0 && leftB.length == 0 && conA.length == 0 ? Kind.MUL : Kind.GEMM;
            Shape outShape = shapeOf(bestOut);

            // schedule: temporaries of A, of B, then the result; operands freed after the step
            int tA = temporaries(pa, s);
            int tB = temporaries(pb, s);
            int r = alloc(outShape, true, s);
            free(tA, s);
            free(tB, s);
            free(slotAlloc[slotA], s);
            free(slotAlloc[slotB], s);
            slotAlloc[outSlot] = r;

            opLabels.add(bestOut);
            opSlot.add(outSlot);
            addCounts(bestOut, +1);
            return new Step(slotA, slotB, outSlot, pa, pb, kind, bestSwap, batch, m, nn, k, bestTP, bestTQ, outShape,
                    bestOut);
        }

        /**
         * Elements in each contiguous run when a tensor with labels {@code from} is gathered into {@code to}: the
         * product of the sizes of the longest common suffix (at least 1).
         */
        private long run(int[] from, int[] to) {
            long r = 1;
            for (int i = from.length - 1, j = to.length - 1; i >= 0 && j >= 0 && from[i] == to[j]; i--, j--) {
                r *= inst.labelDim(from[i]);
            }
            return Math.max(1, r);
        }

        /** Schedules the temporaries of a preparation; returns the index of the last one (to free), or -1. */
        private int temporaries(Prep p, int s) {
            int g = -1;
            if (p.gatherShape() != null) {
                g = alloc(p.gatherShape(), false, s);
            }
            if (p.sumAxes() > 0) {
                free(g, s);
                g = alloc(p.sumShape(), false, s);
            }
            return g;
        }

        /** Whether turning {@code t} into its effective labels {@code e} needs a gather (not just a trailing sum). */
        private static boolean needsGather(int[] t, int[] e) {
            return unique(t).length != t.length || !Arrays.equals(Arrays.copyOf(t, e.length), e);
        }

        private Prep prepare(int[] t, int[] layout, boolean needed) {
            if (!needed) {
                return new Prep(null, null, 0, null);
            }
            return unaryPrep(t, layout, null);
        }

        private static int[] filter(int[] ls, java.util.function.IntPredicate p) {
            return Arrays.stream(ls).filter(p).toArray();
        }

        private static int[] concat(int[] a, int[] b, int[] c) {
            int[] r = Arrays.copyOf(a, a.length + b.length + c.length);
            System.arraycopy(b, 0, r, a.length, b.length);
            System.arraycopy(c, 0, r, a.length + b.length, c.length);
            return r;
        }

        private static List<int[]> distinct(int[] x, int[] y, int[] z) {
            List<int[]> r = new ArrayList<>();
            for (int[] c : new int[][] {x, y, z}) {
                if (c != null && r.stream().noneMatch(e -> Arrays.equals(e, c))) {
                    r.add(c);
                }
            }
            return r;
        }
    }
}
