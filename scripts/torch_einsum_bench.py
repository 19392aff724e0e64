#!/usr/bin/env python3
"""PyTorch reference timing for one einsum-benchmark instance on the GPU (issue 9).

Contracts the instance pairwise along the same path the TensorBuffer CLI uses (the instance's `paths[PATH]`: each step
names two positions in the current operand list; both are removed and their contraction is appended), with
torch.einsum on float64 CUDA tensors, so PyTorch's caching allocator serves the intermediates. A label is kept in an
intermediate when another remaining operand or the output still needs it. Inputs are made before timing (as in the
design notes, input allocation is outside the timed region, intermediates inside).

Prints and optionally writes JSON: median/min seconds per evaluation, and torch.cuda.memory_stats() peak reserved and
peak allocated bytes over the timed evaluations.

Usage: python3 scripts/torch_einsum_bench.py INSTANCE.json [--path opt_flops] [--repeat 10] [--device cuda]
       [--threads N] [--same-inputs --seed 42] [--json FILE]
"""
import argparse
import json
import statistics
import string
import sys
import time


def parse(instance):
    lhs, out = instance["format_string"].split("->")
    return lhs.split(","), out


def pair_subscripts(a, b, keep):
    """einsum subscripts for one pairwise step, labels renamed to ASCII letters (torch accepts only a-zA-Z)."""
    letters = {}
    for ch in a + b:
        if ch not in letters:
            if len(letters) == 52:
                raise ValueError("more than 52 distinct labels in one pairwise step")
            letters[ch] = string.ascii_letters[len(letters)]
    out = "".join(ch for ch in dict.fromkeys(a + b) if ch in keep)
    tr = lambda s: "".join(letters[c] for c in s)
    return f"{tr(a)},{tr(b)}->{tr(out)}", out


def plan(inputs, output, path):
    """The pairwise steps: (i, j, subscripts) on the current operand list, as the CLI performs them."""
    ops = list(inputs)
    steps = []
    for i, j in path:
        i, j = sorted((i, j))
        a, b = ops[i], ops[j]
        rest = ops[:i] + ops[i + 1:j] + ops[j + 1:]
        keep = set(output)
        for r in rest:
            keep.update(r)
        sub, out = pair_subscripts(a, b, keep)
        steps.append((i, j, sub))
        ops = rest + [out]
    return steps, ops


def evaluate(torch, tensors, steps, final_sub):
    ops = list(tensors)
    for i, j, sub in steps:
        a, b = ops[i], ops[j]
        del ops[j]
        del ops[i]
        ops.append(torch.einsum(sub, a, b))
    result = ops[0]
    if final_sub is not None:
        result = torch.einsum(final_sub, result)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instance")
    ap.add_argument("--path", default="opt_flops")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads(N) before timing (0: leave PyTorch's default)")
    ap.add_argument("--same-inputs", action="store_true",
                    help="use the CLI's seeded operands (scripts/einsum_reference.py's SplitMix64 values for --seed) "
                         "instead of torch.rand, so the values equal ours and NumPy's")
    args = ap.parse_args()

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    inst = json.load(open(args.instance, encoding="utf-8"))
    inputs, output = parse(inst)
    path = inst["paths"][args.path]["path"]
    steps, remaining = plan(inputs, output, path)
    if len(remaining) != 1:
        sys.exit(f"path leaves {len(remaining)} operands")
    final_sub = None
    if remaining[0] != output:  # labels summed only at the very end, or a different order
        letters = {c: string.ascii_letters[k] for k, c in enumerate(dict.fromkeys(remaining[0]))}
        final_sub = "".join(letters[c] for c in remaining[0]) + "->" + "".join(letters[c] for c in output)

    dev = torch.device(args.device)
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    if args.same_inputs:
        import os
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from einsum_reference import seeded_inputs
        tensors = [torch.from_numpy(x).to(dev) for x in seeded_inputs([tuple(s) for s in inst["shapes"]], args.seed)]
    else:
        tensors = [torch.rand(tuple(s), generator=gen, dtype=torch.float64).to(dev) for s in inst["shapes"]]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    for _ in range(args.warmup):
        evaluate(torch, tensors, steps, final_sub)
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        r = evaluate(torch, tensors, steps, final_sub)
        sync()
        times.append(time.perf_counter() - t0)
        del r
    result = {
        "instance": inst.get("name"),
        "path": args.path,
        "steps": len(steps),
        "device": str(dev),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "torch": torch.__version__,
        "repeat": args.repeat,
        "threads": torch.get_num_threads(),
        "median_s": statistics.median(times),
        "min_s": min(times),
    }
    if dev.type == "cuda":
        stats = torch.cuda.memory_stats(dev)
        result["peak_reserved_bytes"] = stats.get("reserved_bytes.all.peak")
        result["peak_allocated_bytes"] = stats.get("allocated_bytes.all.peak")
        result["cuda_malloc_retries"] = stats.get("num_alloc_retries")
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
