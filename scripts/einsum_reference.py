#!/usr/bin/env python3
"""NumPy reference for `tensorbuffer einsum`: contracts an einsum-benchmark instance along the same pairwise path.

Inputs are the CLI's seeded operands (SplitMix64, the sequence of java.util.SplittableRandom(seed).nextDouble()
over all operands' elements in order, row-major) or DIR/k.npy files. Each step removes the two operands at the
given positions of the current list and appends their contraction, keeping a label when it appears in another
remaining operand or in the output (as opt_einsum's linear paths).

Two NumPy implementations of one step:
  einsum  np.einsum on the pair (optimize=False: NumPy's C loops)
  einsum-opt  np.einsum(optimize=True) on the pair (NumPy picks tensordot/BLAS for the pair where it can)
  blas    as opt_einsum: np.tensordot (BLAS) when the pair has no batch (Hadamard) label, no repeated label and no
          label summed in one operand only; np.einsum otherwise
  bmm     (default) as TensorBuffer: sum labels only one operand has, transpose to [batch, left, contracted] and
          [batch, contracted, right], reshape, np.matmul, reshape (transpose to the kept order)

Usage:
  einsum_reference.py INSTANCE.json [--path opt_flops] [--seed 42 | --inputs DIR] [--output OUT.npy]
                      [--compare OURS.npy] [--bench N --impl einsum|einsum-opt|blas] [--write-inputs DIR]
--compare prints {"rel_err": ..., "norm": ...} (||ours - ref|| / ||ref||) and exits 1 above --tol (1e-10).
--bench prints {"median_ms": ..., "times_ms": [...]} for N evaluations (inputs made once, outside the timing).
"""
import argparse
import json
import os
import statistics
import string
import sys
import time

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
LETTERS = string.ascii_letters


def load(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    lhs, out = d["format_string"].split("->")
    terms = lhs.split(",")
    return d, terms, out


def seeded_inputs(shapes, seed):
    """Element of operand k: (2u - 1) * sqrt(3) * prod_d dim_d^(-1/4), with u the SplittableRandom(seed).nextDouble()
    sequence, u_n = (mix64(seed + n * GAMMA) >> 11) * 2^-53 for n = 1, 2, ... over all operands' elements in order.
    Mean 0 and standard deviation prod_d dim_d^(-1/4), so that contracting a bond of dimension d (a sum of d random
    terms, ~sqrt(d)) is balanced by the two operands' factors d^(-1/4): deep networks neither overflow nor underflow."""
    total = sum(int(np.prod(s, dtype=np.int64)) for s in shapes)
    ops = []
    start = 0
    with np.errstate(over="ignore"):
        for s in shapes:
            n = int(np.prod(s, dtype=np.int64))
            idx = np.arange(start + 1, start + n + 1, dtype=np.uint64)
            z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + idx * GAMMA
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
            scale = np.sqrt(3.0)
            for dim in s:
                scale *= float(dim) ** -0.25
            ops.append(((2.0 * u - 1.0) * scale).reshape(s))
            start += n
    assert start == total
    return ops


def step_labels(a, b, others, out):
    keep = set(out)
    for o in others:
        keep.update(o)
    res = []
    for c in a + b:
        if c in keep and c not in res:
            res.append(c)
    return "".join(res)


def bmm_pair(ta, tb, a, b, tr):
    """permute -> reshape -> batched matmul -> reshape, the layout of TensorBuffer's planner (without its
    permute-avoiding choices): result labels are batch, left of a, left of b; then transposed to tr."""
    sa, sb, keep = set(ta), set(tb), set(tr)
    if len(sa) != len(ta) or len(sb) != len(tb):
        return None
    # sum labels only one operand has and nobody keeps
    da = [i for i, c in enumerate(ta) if c not in sb and c not in keep]
    if da:
        a = a.sum(axis=tuple(da))
        ta = "".join(c for c in ta if c in sb or c in keep)
    db = [i for i, c in enumerate(tb) if c not in sa and c not in keep]
    if db:
        b = b.sum(axis=tuple(db))
        tb = "".join(c for c in tb if c in sa or c in keep)
    batch = [c for c in ta if c in tb and c in keep]
    con = [c for c in ta if c in tb and c not in keep]
    left_a = [c for c in ta if c not in tb]
    left_b = [c for c in tb if c not in ta]
    dim = dict(zip(ta, a.shape))
    dim.update(zip(tb, b.shape))
    prod = lambda ls: int(np.prod([dim[c] for c in ls], dtype=np.int64))
    pa = [ta.index(c) for c in batch + left_a + con]
    pb = [tb.index(c) for c in batch + con + left_b]
    am = (a.transpose(pa) if pa != sorted(pa) else a).reshape(prod(batch), prod(left_a), prod(con))
    bm = (b.transpose(pb) if pb != sorted(pb) else b).reshape(prod(batch), prod(con), prod(left_b))
    r = np.matmul(am, bm).reshape([dim[c] for c in batch + left_a + left_b])
    got = "".join(batch + left_a + left_b)
    if got != tr:
        r = np.ascontiguousarray(r.transpose([got.index(c) for c in tr]))
    return r


def contract_pair(ta, tb, a, b, tr, impl):
    if impl == "bmm":
        r = bmm_pair(ta, tb, a, b, tr)
        if r is not None:
            return r
    labels = {c: LETTERS[i] for i, c in enumerate(dict.fromkeys(ta + tb))}
    la = "".join(labels[c] for c in ta)
    lb = "".join(labels[c] for c in tb)
    lr = "".join(labels[c] for c in tr)
    if impl == "einsum-opt":
        return np.einsum(la + "," + lb + "->" + lr, a, b, optimize=True)
    if impl == "blas":
        sa, sb, sr = set(ta), set(tb), set(tr)
        batch = sa & sb & sr
        only_summed = (sa - sb - sr) | (sb - sa - sr)
        if not batch and not only_summed and len(sa) == len(ta) and len(sb) == len(tb):
            axes_a = [i for i, c in enumerate(ta) if c in sb]
            axes_b = [tb.index(ta[i]) for i in axes_a]
            r = np.tensordot(a, b, axes=(axes_a, axes_b))
            got = "".join(c for c in ta if c not in sb) + "".join(c for c in tb if c not in sa)
            if got != tr:
                r = r.transpose([got.index(c) for c in tr])
            return r
    return np.einsum(la + "," + lb + "->" + lr, a, b)


def contract(terms, out, path, ops, impl="einsum"):
    terms = list(terms)
    ops = list(ops)
    sizes = []
    for step in path:
        if len(step) == 1:
            (i,) = step
            t, x = terms.pop(i), ops.pop(i)
            tr = step_labels(t, "", terms, out)
            labels = {c: LETTERS[k] for k, c in enumerate(dict.fromkeys(t))}
            r = np.einsum("".join(labels[c] for c in t) + "->" + "".join(labels[c] for c in tr), x)
        else:
            i, j = sorted(step)
            tb, b = terms.pop(j), ops.pop(j)
            ta, a = terms.pop(i), ops.pop(i)
            if step[0] > step[1]:
                ta, a, tb, b = tb, b, ta, a
            tr = step_labels(ta, tb, terms, out)
            r = contract_pair(ta, tb, a, b, tr, impl)
        terms.append(tr)
        ops.append(r)
        sizes.append(r.size)
    assert len(ops) == 1, "path leaves %d operands" % len(ops)
    t, r = terms[0], ops[0]
    if t != out:
        labels = {c: LETTERS[k] for k, c in enumerate(dict.fromkeys(t))}
        r = np.einsum("".join(labels[c] for c in t) + "->" + "".join(labels[c] for c in out), r)
    return np.ascontiguousarray(r), sizes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instance")
    p.add_argument("--path", default="opt_flops")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--inputs")
    p.add_argument("--output")
    p.add_argument("--compare")
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--bench", type=int, default=0)
    p.add_argument("--impl", choices=["einsum", "einsum-opt", "blas", "bmm"], default="bmm")
    p.add_argument("--write-inputs")
    p.add_argument("--sizes", action="store_true", help="print the element counts of the intermediates")
    p.add_argument("--reference-json", help="write a reference summary for the Java tests: the whole result when it "
                   "has at most 4096 elements, else its norm, sum and 64 entries at evenly spaced flat indices")
    args = p.parse_args()

    d, terms, out = load(args.instance)
    path = [tuple(s) for s in d["paths"][args.path]["path"]]
    shapes = [tuple(s) for s in d["shapes"]]
    if args.inputs:
        ops = [np.load(os.path.join(args.inputs, "%d.npy" % k)) for k in range(len(shapes))]
    else:
        ops = seeded_inputs(shapes, args.seed)
    if args.write_inputs:
        os.makedirs(args.write_inputs, exist_ok=True)
        for k, x in enumerate(ops):
            np.save(os.path.join(args.write_inputs, "%d.npy" % k), x)

    if args.sizes:
        # Symbolic: the element count of each step's result, from the labels alone (no contraction).
        dim = {}
        for t, sh in zip(terms, shapes):
            dim.update(zip(t, sh))
        ts = list(terms)
        sizes = []
        for step in path:
            picked = [ts[i] for i in step]
            for i in sorted(step, reverse=True):
                ts.pop(i)
            tr = step_labels(picked[0], picked[1] if len(picked) > 1 else "", ts, out)
            ts.append(tr)
            sizes.append(int(np.prod([dim[c] for c in tr], dtype=np.int64)))
        print(json.dumps({"intermediates": len(sizes), "sizes": sizes}))
        return 0

    if args.bench:
        times = []
        for _ in range(args.bench):
            t0 = time.perf_counter()
            r, _ = contract(terms, out, path, ops, args.impl)
            times.append((time.perf_counter() - t0) * 1e3)
            del r
        print(json.dumps({"instance": d["name"], "impl": "numpy-" + args.impl, "median_ms": statistics.median(times),
                          "times_ms": times}))
        return 0

    r, sizes = contract(terms, out, path, ops, args.impl)
    if args.output:
        np.save(args.output, r)
    if args.reference_json:
        flat = r.reshape(-1)
        ref = {"instance": d["name"], "path": args.path, "seed": args.seed, "shape": list(r.shape),
               "norm": float(np.linalg.norm(flat)), "sum": float(flat.sum())}
        if flat.size <= 4096:
            ref["values"] = [float(x) for x in flat]
        else:
            idx = [int(j * (flat.size - 1) // 63) for j in range(64)]
            ref["sample_index"] = idx
            ref["sample_value"] = [float(flat[i]) for i in idx]
        with open(args.reference_json, "w") as f:
            json.dump(ref, f, separators=(",", ":"))
            f.write("\n")
    if args.compare:
        ours = np.load(args.compare)
        if ours.shape != r.shape or ours.dtype != np.float64:
            print(json.dumps({"error": "shape/dtype %s %s, expected %s float64" % (ours.shape, ours.dtype, r.shape)}))
            return 1
        norm = float(np.linalg.norm(r))
        err = float(np.linalg.norm(ours - r)) / (norm if norm > 0 else 1.0)
        print(json.dumps({"rel_err": err, "norm": norm, "shape": list(r.shape)}))
        return 0 if err <= args.tol else 1
    if not args.output and not args.reference_json:
        print(json.dumps({"norm": float(np.linalg.norm(r)), "shape": list(r.shape)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
