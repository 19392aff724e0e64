#!/usr/bin/env python3
"""Einsum side by side, one thread: TensorBuffer (every strategy) against NumPy and PyTorch contracting pairwise
along the same path with `einsum` per pair, in one run on one machine (issue 14's acceptance measurement).

Per instance: ours, `./tensorbuffer einsum INSTANCE --path P --repeat R --warmup W --strategy S` for S in none,
reactive (the default), proactive, planned; NumPy, scripts/einsum_reference.py --impl einsum-opt (np.einsum with
optimize=True on each pair); PyTorch, scripts/torch_einsum_bench.py --device cpu (torch.einsum on each pair).
Inputs are made before timing on every side; the figure is the best (minimum) of R timed evaluations after W
untimed ones.

Warm-up protocol (--warmup-seconds S, default 0.5): an instance's warm-up count is the larger of --warmup and
ceil(S / t), at most --max-warmup, where t is NumPy's best of 2 evaluations in a short probe run before the timed
runs; the same count is given to every side (NumPy, PyTorch, each strategy of ours, the baseline) and printed in the
table's "best of (warm-up)" column. Why: on the ~1 ms instances (bin_batched_matmul, bin_matmul_256,
str_matrix_chain) 2 warm-up evaluations leave a fresh JVM in its JIT warm-up (it reaches warm speed after 10-30
evaluations, and the OpenBLAS call's method handle is specialised at its 128th call, a 2-3 ms spike), so the best of
evaluations 3-7 timed the JIT rather than the code (docs/benchmarks.md, issue 14, "Round 9: einsum fixed costs" and
"Round 10: einsum"). About half a second of warm-up gives every side hundreds of evaluations there, while the
instances of 0.25 s and more keep --warmup (2) as before. --warmup-seconds 0 restores the fixed count.
OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1 and MKL_NUM_THREADS=1 are set for every process, so NumPy's
and our OpenBLAS and PyTorch's intra-op pool (torch.set_num_threads follows OMP_NUM_THREADS) run one thread.

Prints a Markdown table: seconds per evaluation, then best-of-ours / NumPy, best-of-ours / PyTorch,
default (reactive) / NumPy and default / PyTorch. PyTorch gets the same seeded operands and torch.set_num_threads(1).

Note: NumPy 1.24 (Debian's python3) cannot run every pair: np.einsum(optimize=True) gives a pair with a batch
(Hadamard) label to its C einsum loop, not to tensordot/BLAS, and 1.24's loop takes 115 s on step 407 of
tensornetwork_permutation_light_415 (2^18 x 2^22 elements -> 2^24, 31 labels of extent 2); NumPy 2.x runs that step
in about a second. --numpy-python names another interpreter for the NumPy side (e.g. one with NumPy 2.x); PyTorch
runs under --python. --numpy-impl bmm times NumPy's transpose+matmul instead.

Runs can be split: --json-out appends one line per instance, --table-from FILE prints the table of those lines.
--baseline OTHER/tensorbuffer also times another build's default strategy in the same run (before/after).

Usage: scripts/einsum_side_by_side.py [--repeat 5] [--warmup 2] [--warmup-seconds 0.5] [--max-warmup 1000]
       [--path opt_flops] [--python /usr/bin/python3]
       [--numpy-python PY] [--numpy-impl einsum-opt|einsum|blas|bmm] [--strategies none,reactive,...]
       [--tensorbuffer OTHER/tensorbuffer] [--baseline OTHER/tensorbuffer] [--skip-references]
       [--json-out FILE] [--table-from FILE] [INSTANCE ...]            (default: every data/einsum/*.json)
"""
import argparse
import glob
import json
import math
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STRATEGIES = ["none", "reactive", "proactive", "planned"]
DEFAULT_STRATEGY = "reactive"


def run_json(cmd, env, timeout=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=timeout).stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    text = "\n".join(lines[start:])
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads([line for line in lines if line.startswith("{")][-1])


def version(python, module):
    try:
        return subprocess.run([python, "-c", "import %s; print(%s.__version__)" % (module, module)], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def fmt(x):
    return "-" if x is None else "%.4g" % x


def ratio(a, b):
    return "-" if a is None or b is None else "%.2f" % (a / b)


def print_table(rows, strategies, header):
    print(header)
    print()
    print("| instance | best of (warm-up) | NumPy s | PyTorch s | " + " | ".join("%s s" % s for s in strategies)
          + " | best/NumPy | best/PyTorch | default/NumPy | default/PyTorch |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in strategies) + " | ---: | ---: | ---: | ---: |")
    for r in rows:
        ours = [r.get(s) for s in strategies]
        best = min(x for x in ours if x is not None)
        default = r.get(DEFAULT_STRATEGY)
        print("| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s |" % (
            r["instance"], r.get("repeat", "?"), r.get("warmup", "?"), fmt(r.get("numpy")), fmt(r.get("torch")), " | ".join(fmt(x) for x in ours),
            ratio(best, r.get("numpy")), ratio(best, r.get("torch")), ratio(default, r.get("numpy")),
            ratio(default, r.get("torch"))))


def warmup_count(args, numpy_python, f, env):
    """The instance's warm-up count: max(--warmup, ceil(--warmup-seconds / t)) up to --max-warmup, t being NumPy's best
    of 2 evaluations in a probe run (--warmup alone when --warmup-seconds is 0 or the probe fails)."""
    if args.warmup_seconds <= 0:
        return args.warmup
    try:
        d = run_json([numpy_python, os.path.join(HERE, "einsum_reference.py"), f, "--path", args.path, "--seed",
                      str(args.seed), "--bench", "2", "--impl", args.numpy_impl], env, timeout=args.numpy_timeout)
    except (subprocess.SubprocessError, OSError, ValueError, StopIteration):
        return args.warmup
    t = max(min(d["times_ms"]) / 1e3, 1e-6)
    return max(args.warmup, min(args.max_warmup, int(math.ceil(args.warmup_seconds / t))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instances", nargs="*")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--warmup-seconds", type=float, default=0.5,
                   help="warm every side for at least this long per instance (count from a NumPy probe, the same "
                        "count on every side; 0: --warmup alone)")
    p.add_argument("--max-warmup", type=int, default=1000, help="most warm-up evaluations per instance")
    p.add_argument("--path", default="opt_flops")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--python", default="/usr/bin/python3", help="a python3 with torch (and numpy) for PyTorch")
    p.add_argument("--numpy-python", help="the python3 whose NumPy is measured (default: --python)")
    p.add_argument("--numpy-impl", default="einsum-opt", choices=["einsum-opt", "einsum", "blas", "bmm"],
                   help="NumPy's per-pair implementation (einsum_reference.py --impl); einsum-opt is the acceptance "
                        "measurement, bmm the transpose+matmul scheme of scripts/einsum_bench.py")
    p.add_argument("--numpy-timeout", type=float, default=900,
                   help="seconds after which NumPy's run is abandoned (shown as '-')")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategies of ours")
    p.add_argument("--tensorbuffer", default=os.path.join(ROOT, "tensorbuffer"),
                   help="the launcher to measure (e.g. another checkout's, for a before/after)")
    p.add_argument("--baseline", help="a second launcher measured in the same run (default strategy only), "
                   "reported as 'before'")
    p.add_argument("--skip-references", action="store_true", help="time only ours (and --baseline)")
    p.add_argument("--json-out", help="append one JSON line per instance to this file")
    p.add_argument("--table-from", help="print the table of the JSON lines in this file and exit")
    args = p.parse_args()
    strategies = args.strategies.split(",")
    numpy_python = args.numpy_python or args.python
    header = ("machine: %s, %d CPUs; path %s; one thread; NumPy %s (%s), PyTorch %s"
              % (platform.processor() or platform.machine(), os.cpu_count(), args.path,
                 version(numpy_python, "numpy"), args.numpy_impl, version(args.python, "torch")))
    if args.table_from:
        with open(args.table_from, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        print_table(rows, [s for s in strategies if any(s in r for r in rows)], header)
        extra = [r for r in rows if "before" in r]
        if extra:
            print()
            print("| instance | before (%s) s | after s | after/before |" % DEFAULT_STRATEGY)
            print("| --- | ---: | ---: | ---: |")
            for r in extra:
                print("| %s | %s | %s | %s |" % (r["instance"], fmt(r["before"]), fmt(r.get(DEFAULT_STRATEGY)),
                                                 ratio(r.get(DEFAULT_STRATEGY), r["before"])))
        return
    names = args.instances or sorted(os.path.basename(f)[:-5] for f in glob.glob(os.path.join(ROOT, "data",
                                                                                               "einsum", "*.json")))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for name in names:
        f = os.path.join(ROOT, "data", "einsum", name + ".json")
        warmup = warmup_count(args, numpy_python, f, env)
        res = {"instance": name, "repeat": args.repeat, "warmup": warmup}

        def ours(launcher, s):
            d = run_json([launcher, "einsum", f, "--json", "--path", args.path, "--seed",
                          str(args.seed), "--repeat", str(args.repeat), "--warmup", str(warmup), "--strategy",
                          s], env)
            return min(d["times_ms"]) / 1e3

        if args.baseline:
            res["before"] = ours(args.baseline, DEFAULT_STRATEGY)
        for s in strategies:
            res[s] = ours(args.tensorbuffer, s)
        if args.baseline:  # the baseline again after ours, the better of its two runs kept (interleaved)
            res["before"] = min(res["before"], ours(args.baseline, DEFAULT_STRATEGY))
        if not args.skip_references:
            try:
                d = run_json([numpy_python, os.path.join(HERE, "einsum_reference.py"), f, "--path", args.path,
                              "--seed", str(args.seed), "--bench", str(args.repeat + warmup), "--impl",
                              args.numpy_impl], env, timeout=args.numpy_timeout)
                res["numpy"] = min(d["times_ms"][warmup:]) / 1e3
            except subprocess.TimeoutExpired:
                res["numpy"] = None
            d = run_json([args.python, os.path.join(HERE, "torch_einsum_bench.py"), f, "--path", args.path,
                          "--device", "cpu", "--threads", "1", "--same-inputs", "--seed", str(args.seed),
                          "--repeat", str(args.repeat), "--warmup", str(warmup)], env)
            res["torch"] = d["min_s"]
        print("%s: %s" % (name, json.dumps(res)), file=sys.stderr)
        rows.append(res)
        if args.json_out:
            with open(args.json_out, "a", encoding="utf-8") as fo:
                fo.write(json.dumps(res) + "\n")
    if not args.skip_references:
        print_table(rows, strategies, header)


if __name__ == "__main__":
    main()
