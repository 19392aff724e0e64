#!/usr/bin/env python3
"""Einsum benchmark: TensorBuffer (./tensorbuffer einsum, strategies none/reactive/proactive) against NumPy on the
same pairwise path and the same seeded operands, in one run on one machine. Prints a Markdown table.

Each row: median time per evaluation (ms) of --repeat timed evaluations after --warmup untimed ones; the inputs are
made outside the timing in both. NumPy runs scripts/einsum_reference.py --impl bmm (per step: sum labels only one
operand has, transpose to [batch, rows, k] / [batch, k, cols], reshape, np.matmul, reshape) because its other two
pairwise implementations (np.einsum per step, and opt_einsum's tensordot-or-einsum) are one to two orders of
magnitude slower on the tensor networks.

Usage: scripts/einsum_bench.py [--repeat 5] [--warmup 2] [--path opt_flops] [INSTANCE ...]
Environment: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE apply to both sides alike (both use OpenBLAS).
"""
import argparse
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT = ["tensornetwork_permutation_light_415", "str_nw_mera_open_26", "str_matrix_chain_multiplication_100",
           "lm_batch_likelihood_brackets_4_4d"]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("instances", nargs="*", default=DEFAULT)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--path", default="opt_flops")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json-out", help="also write all raw results to this file")
    args = p.parse_args()

    rows = []
    raw = []
    for name in args.instances:
        f = os.path.join(ROOT, "data", "einsum", name + ".json")
        res = {}
        for strategy in ["none", "reactive", "proactive"]:
            d = run_json([os.path.join(ROOT, "tensorbuffer"), "einsum", f, "--json", "--path", args.path,
                          "--seed", str(args.seed), "--repeat", str(args.repeat), "--warmup", str(args.warmup),
                          "--strategy", strategy])
            res[strategy] = d
            raw.append(d)
            print("%s %s %.1f ms" % (name, strategy, d["median_ms"]), file=sys.stderr)
        d = run_json([sys.executable, os.path.join(HERE, "einsum_reference.py"), f, "--path", args.path, "--seed",
                      str(args.seed), "--bench", str(args.repeat + args.warmup), "--impl", "bmm"])
        times = d["times_ms"][args.warmup:]
        times.sort()
        n = len(times)
        numpy_ms = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
        raw.append(d)
        print("%s numpy %.1f ms" % (name, numpy_ms), file=sys.stderr)
        rows.append((name, res, numpy_ms))

    print("| instance | steps | allocations/eval | none ms | reactive ms | proactive ms | NumPy ms | "
          "best / NumPy | reactive hit rate | peak live / lower bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, res, numpy_ms in rows:
        best = min(res[s]["median_ms"] for s in ("reactive", "proactive"))
        r = res["reactive"]
        print("| %s | %d | %d (%d intermediates) | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f%% | %.1f / %.1f MiB |" % (
            name, r["steps"], r["allocations"], r["intermediates"], res["none"]["median_ms"], r["median_ms"],
            res["proactive"]["median_ms"], numpy_ms, best / numpy_ms, 100 * r["hit_rate"],
            r["peak_live_bytes"] / 2**20, r["liveness_lower_bound_bytes"] / 2**20))
    print()
    print("machine: %s, %d cores; %s; repeat %d, warmup %d, path %s, seed %d; OPENBLAS_CORETYPE=%s" % (
        platform.machine(), os.cpu_count(), platform.python_version() and "NumPy " + __import__("numpy").__version__,
        args.repeat, args.warmup, args.path, args.seed, os.environ.get("OPENBLAS_CORETYPE", "(unset)")))
    if args.json_out:
        with open(args.json_out, "w") as fo:
            json.dump(raw, fo, indent=1)


if __name__ == "__main__":
    main()
