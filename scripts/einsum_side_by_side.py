#!/usr/bin/env python3
"""Einsum side by side, one thread: TensorBuffer (every strategy) against NumPy and PyTorch contracting pairwise
along the same path with `einsum` per pair, in one run on one machine (issue 14's acceptance measurement).

Per instance: ours, `./tensorbuffer einsum INSTANCE --path P --repeat R --warmup W --strategy S` for S in none,
reactive (the default), proactive, planned; NumPy, scripts/einsum_reference.py --impl einsum-opt (np.einsum with
optimize=True on each pair); PyTorch, scripts/torch_einsum_bench.py --device cpu (torch.einsum on each pair).
Inputs are made before timing on every side; the figure is the best (minimum) of R timed evaluations after W
untimed ones. OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1 and MKL_NUM_THREADS=1 are set for every process, so NumPy's
and our OpenBLAS and PyTorch's intra-op pool (torch.set_num_threads follows OMP_NUM_THREADS) run one thread.

Prints a Markdown table: seconds per evaluation, then best-of-ours / NumPy, best-of-ours / PyTorch and
default (reactive) / NumPy.

Note: with NumPy 1.24, np.einsum(optimize=True) on the pairs of the tensor networks runs for minutes per
evaluation (tensornetwork_permutation_light_415: over 60 s); --numpy-impl bmm times NumPy's transpose+matmul instead.

Usage: scripts/einsum_side_by_side.py [--repeat 5] [--warmup 2] [--path opt_flops] [--python /usr/bin/python3]
       [--numpy-impl einsum-opt|einsum|blas|bmm]
       [--tensorbuffer OTHER/tensorbuffer] [--json-out FILE] [INSTANCE ...]       (default: every data/einsum/*.json)
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STRATEGIES = ["none", "reactive", "proactive", "planned"]
DEFAULT_STRATEGY = "reactive"


def run_json(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    text = "\n".join(lines[start:])
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads([line for line in lines if line.startswith("{")][-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instances", nargs="*")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--path", default="opt_flops")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--python", default="/usr/bin/python3", help="a python3 with numpy and torch")
    p.add_argument("--numpy-impl", default="einsum-opt", choices=["einsum-opt", "einsum", "blas", "bmm"],
                   help="NumPy's per-pair implementation (einsum_reference.py --impl); einsum-opt is the acceptance "
                        "measurement, bmm the transpose+matmul scheme of scripts/einsum_bench.py")
    p.add_argument("--tensorbuffer", default=os.path.join(ROOT, "tensorbuffer"),
                   help="the launcher to measure (e.g. another checkout's, for a before/after)")
    p.add_argument("--json-out")
    args = p.parse_args()
    names = args.instances or sorted(os.path.basename(f)[:-5] for f in glob.glob(os.path.join(ROOT, "data",
                                                                                               "einsum", "*.json")))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for name in names:
        f = os.path.join(ROOT, "data", "einsum", name + ".json")
        res = {"instance": name}
        for s in STRATEGIES:
            d = run_json([args.tensorbuffer, "einsum", f, "--json", "--path", args.path, "--seed",
                          str(args.seed), "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--strategy",
                          s], env)
            res[s] = min(d["times_ms"]) / 1e3
        d = run_json([args.python, os.path.join(HERE, "einsum_reference.py"), f, "--path", args.path, "--seed",
                      str(args.seed), "--bench", str(args.repeat + args.warmup), "--impl", args.numpy_impl], env)
        res["numpy"] = min(d["times_ms"][args.warmup:]) / 1e3
        d = run_json([args.python, os.path.join(HERE, "torch_einsum_bench.py"), f, "--path", args.path, "--device",
                      "cpu", "--repeat", str(args.repeat), "--warmup", str(args.warmup)], env)
        res["torch"] = d["min_s"]
        print("%s: %s" % (name, json.dumps(res)), file=sys.stderr)
        rows.append(res)
    print("machine: %s, %d CPUs; path %s; best of %d after %d warm-up; one thread" % (
        platform.processor() or platform.machine(), os.cpu_count(), args.path, args.repeat, args.warmup))
    print()
    print("| instance | NumPy s | PyTorch s | none s | reactive s | proactive s | planned s "
          "| best/NumPy | best/PyTorch | default/NumPy |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        best = min(r[s] for s in STRATEGIES)
        print("| %s | %.4g | %.4g | %s | %.2f | %.2f | %.2f |" % (
            r["instance"], r["numpy"], r["torch"], " | ".join("%.4g" % r[s] for s in STRATEGIES),
            best / r["numpy"], best / r["torch"], r[DEFAULT_STRATEGY] / r["numpy"]))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fo:
            json.dump(rows, fo, indent=1)


if __name__ == "__main__":
    main()
