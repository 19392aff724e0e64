#!/usr/bin/env python3
"""Turns the work files of scripts/gpu-check.sh into results.json and a short verdict table (issue 9).

Usage: python3 scripts/gpu_check_report.py WORKDIR RESULTS.json   (also writes RESULTS.md next to it)

Reads WORKDIR/{mode.txt, stopped.txt, timings.txt, gpu.csv, info.txt, tests.log, alloc.json, torch.json, tn415/*.out, decode/*.out, einsum/*.npy}.
Checks: token ids of decode on CUDA equal the CPU's for every checkpoint and strategy; every einsum result on CUDA is
within 1e-9 relative (Frobenius norm) of the CPU's. Figures: allocation ns/op and ratios, decode tokens/s per strategy
(proactive / none), tn415 time per strategy vs PyTorch's and peak reserved bytes vs PyTorch's. The CLI's JSON is kept
verbatim next to each extracted figure, so nothing is lost if a key name differs from the ones looked for.
"""
import glob
import json
import os
import re
import sys
import time

REL_TOL = 1e-9


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def last_json(text):
    """The last JSON object in a program's output (one line or pretty-printed)."""
    if not text:
        return None
    starts = [m.start() for m in re.finditer(r"(?m)^\s*\{", text)]
    for s in reversed(starts):
        chunk = text[s:]
        end = chunk.rfind("}")
        while end > 0:
            try:
                return json.loads(chunk[:end + 1])
            except ValueError:
                end = chunk.rfind("}", 0, end)
    return None


def ids_line(text):
    """The generated token ids: the first line made only of integers separated by spaces."""
    if not text:
        return None
    for line in text.splitlines():
        if re.fullmatch(r"\s*\d+(\s+\d+)*\s*", line):
            return [int(t) for t in line.split()]
    return None


def find_number(obj, *keys):
    """The first numeric value whose key contains one of `keys` (searched depth-first)."""
    if isinstance(obj, dict):
        for k in keys:
            for key, v in obj.items():
                if k in key.lower() and isinstance(v, (int, float)) and not isinstance(v, bool):
                    return v
        for v in obj.values():
            r = find_number(v, *keys)
            if r is not None:
                return r
    return None


def exit_status(text):
    m = re.search(r"exit status (\d+)\s*$", text or "")
    return int(m.group(1)) if m else None


def main():
    work, out = sys.argv[1], sys.argv[2]
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "checks": {}, "figures": {}}
    res["mode"] = ((read(os.path.join(work, "mode.txt")) or "mode: real").split(":", 1)[1]).strip()
    stopped = read(os.path.join(work, "stopped.txt"))
    res["stopped"] = stopped.strip() if stopped else None
    res["timings"] = (read(os.path.join(work, "timings.txt")) or "").strip().splitlines()
    gpu = (read(os.path.join(work, "gpu.csv")) or "").strip()
    res["gpu"] = gpu
    info = read(os.path.join(work, "info.txt")) or ""
    m = re.search(r"gemm: (.+)", info)
    res["gemm"] = m.group(1).strip() if m else None

    # tests
    tests = read(os.path.join(work, "tests.log")) or ""
    counts = {k: int(v) for v, k in re.findall(r"\[\s*(\d+) tests (\w+)\s*\]", tests)}
    res["checks"]["tests"] = {"counts": counts, "exit_status": exit_status(tests),
                              "ok": None if not tests else bool(counts) and counts.get("failed", 1) == 0 and counts.get("successful", 0) > 0
                              and counts.get("aborted", 0) == 0}

    # allocation benchmark
    alloc = read(os.path.join(work, "alloc.json"))
    if alloc:
        a = json.loads(alloc)
        res["figures"]["alloc"] = a
        res["checks"]["alloc_targets"] = {
            "pool_le_200ns": a["worst_pool_ns"] <= 200,
            "pool_100x_cuMemAlloc": a["min_cuMemAlloc_over_pool"] >= 100,
            "pool_5x_async": a["min_async_over_pool"] >= 5,
        }

    # decode: ids equal to the CPU's; tokens/s per strategy on CUDA
    decode = {}
    for f in sorted(glob.glob(os.path.join(work, "decode", "*.out"))):
        model, dev, strategy = os.path.basename(f)[:-4].rsplit("-", 2)
        text = read(f)
        j = last_json(text)
        ids = j.get("ids") if isinstance(j, dict) and isinstance(j.get("ids"), list) else ids_line(text)
        decode.setdefault(model, {}).setdefault(strategy, {})[dev] = {
            "ids": ids, "exit_status": exit_status(text),
            "tokens_per_s": find_number(j, "tokens_per_s", "tok_s", "tokens/s") if j else None,
            "peak_reserved_bytes": find_number(j, "peak_reserved") if j else None, "json": j}
    decode_ok = bool(decode)
    dec_fig = {}
    for model, per in decode.items():
        for strategy, d in per.items():
            cpu, cuda = d.get("cpu", {}), d.get("cuda", {})
            same = cpu.get("ids") is not None and cpu.get("ids") == cuda.get("ids")
            d["ids_equal"] = same
            decode_ok &= same
            dec_fig.setdefault(model, {})[strategy] = {"cuda_tokens_per_s": cuda.get("tokens_per_s"),
                                                       "cpu_tokens_per_s": cpu.get("tokens_per_s"),
                                                       "cuda_peak_reserved_bytes": cuda.get("peak_reserved_bytes"),
                                                       "ids_equal": same, "tokens": len(cuda.get("ids") or [])}
        none = dec_fig[model].get("none", {}).get("cuda_tokens_per_s")
        pro = dec_fig[model].get("proactive", {}).get("cuda_tokens_per_s")
        if none and pro:
            dec_fig[model]["proactive_over_none"] = pro / none
    res["checks"]["decode_ids_equal_cpu"] = decode_ok if decode else None
    res["figures"]["decode"] = dec_fig
    res["decode_raw"] = decode

    # einsum: CUDA vs CPU within 1e-9 relative
    ein = {}
    try:
        import numpy as np
    except ImportError:
        np = None
    for f in sorted(glob.glob(os.path.join(work, "einsum", "*-cuda.out"))):
        name = os.path.basename(f)[:-len("-cuda.out")]
        entry = {"cuda_exit": exit_status(read(f)),
                 "cpu_exit": exit_status(read(os.path.join(work, "einsum", name + "-cpu.out")))}
        pc = os.path.join(work, "einsum", name + "-cuda.npy")
        pr = os.path.join(work, "einsum", name + "-cpu.npy")
        if np is not None and os.path.exists(pc) and os.path.exists(pr):
            c, r = np.load(pc), np.load(pr)
            if c.shape != r.shape:
                entry["error"] = f"shape {c.shape} vs cpu {r.shape}"
                entry["ok"] = False
            else:
                denom = float(np.linalg.norm(r.ravel()))
                diff = float(np.linalg.norm((c - r).ravel()))
                rel = diff / denom if denom else diff
                entry["rel_err"] = rel
                entry["ok"] = bool(np.isfinite(rel) and rel <= REL_TOL) or bool(np.array_equal(c, r))
        else:
            entry["ok"] = False
            entry["error"] = "missing result file"
        ein[name] = entry
    res["checks"]["einsum_cuda_vs_cpu"] = {"ok": all(e["ok"] for e in ein.values()) if ein else None,
                                          "instances": ein}

    # tn415 per strategy vs PyTorch
    torch_res = read(os.path.join(work, "torch.json"))
    tj = json.loads(torch_res) if torch_res else None
    tn = {}
    for f in sorted(glob.glob(os.path.join(work, "tn415", "*.out"))):
        s = os.path.basename(f)[:-4]
        j = last_json(read(f))
        secs = None
        if j:
            ms = find_number(j, "median_ms", "time_ms", "ms_per_eval")
            secs = ms / 1000 if ms is not None else find_number(j, "median_s", "seconds", "time_s")
        tn[s] = {"median_s": secs, "peak_reserved_bytes": find_number(j, "peak_reserved") if j else None,
                 "peak_live_bytes": find_number(j, "peak_live") if j else None,
                 "liveness_lower_bound_bytes": find_number(j, "liveness_lower_bound") if j else None, "json": j}
        if tj and secs:
            tn[s]["ours_over_torch"] = secs / tj["median_s"]
    res["figures"]["tn415"] = {"ours": tn, "torch": tj}

    with open(out, "w") as f:
        json.dump(res, f, indent=2, default=str)
    md = os.path.splitext(out)[0] + ".md"
    with open(md, "w") as f:
        f.write(markdown(res))

    if res["stopped"]:
        print(f"stopped at the first CUDA call: no GPU: {res['stopped']} ({res['mode']})")

    print(f"GPU: {gpu}  GEMM: {res['gemm']}")
    print(f"tests: {counts}")
    if alloc:
        print(f"alloc: worst pool {a['worst_pool_ns']} ns, min cuMemAlloc/pool {a['min_cuMemAlloc_over_pool']}x, "
              f"min async/pool {a['min_async_over_pool']}x")
    for model, per in dec_fig.items():
        print(f"decode {model}: " + ", ".join(f"{s}: ids_equal={v['ids_equal']} cuda {v['cuda_tokens_per_s']} tok/s"
                                              for s, v in per.items() if isinstance(v, dict))
              + (f", proactive/none {per['proactive_over_none']:.2f}" if "proactive_over_none" in per else ""))
    for name, e in ein.items():
        print(f"einsum {name}: ok={e['ok']} rel_err={e.get('rel_err')} {e.get('error', '')}")
    if tj:
        print(f"torch tn415: {tj['median_s'] * 1e3:.2f} ms, peak reserved {tj.get('peak_reserved_bytes')} B")
    for s, v in tn.items():
        print(f"ours tn415 {s}: {v['median_s']} s, ratio {v.get('ours_over_torch')}, "
              f"peak reserved {v['peak_reserved_bytes']} B, peak live {v['peak_live_bytes']} B")
    print("checks: " + json.dumps({k: (v.get("ok") if isinstance(v, dict) and "ok" in v else v)
                                   for k, v in res["checks"].items()}))


def verdict(v):
    ok = v.get("ok") if isinstance(v, dict) and "ok" in v else v
    if isinstance(ok, dict):
        ok = all(ok.values()) if ok else None
    return "not run" if ok is None else ("pass" if ok else "FAIL")


def markdown(res):
    """The verdicts and headline figures as a Markdown page (for docs/gpu-results.md)."""
    lines = [f"# GPU check {res['date']} ({res['mode']})", ""]
    if res.get("stopped"):
        lines += [f"**Stopped at the first CUDA call: no GPU: {res['stopped']}**", ""]
    lines += [f"- GPU: {res.get('gpu') or 'none'}", f"- GEMM: {res.get('gemm') or 'n/a'}"]
    lines += [f"- {t}" for t in res.get("timings") or []]
    lines += ["", "| check | verdict |", "| --- | --- |"]
    for k, v in res["checks"].items():
        lines.append(f"| {k} | {verdict(v)} |")
    alloc = res["figures"].get("alloc")
    if alloc:
        lines += ["", "| bytes | pool ns | cuMemAlloc ns | cuMemAllocAsync ns |", "| --- | --- | --- | --- |"]
        for r in alloc.get("rows", []):
            lines.append(f"| {r['bytes']} | {r['pool_ns']} | {r['cuMemAlloc_ns']} | {r['cuMemAllocAsync_ns']} |")
    for model, per in (res["figures"].get("decode") or {}).items():
        for s, v in per.items():
            if isinstance(v, dict):
                lines.append(f"- decode {model} {s}: ids equal {v['ids_equal']}, "
                             f"{v['cuda_tokens_per_s']} tok/s on CUDA")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
