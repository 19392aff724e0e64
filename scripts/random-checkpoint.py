#!/usr/bin/env python3
"""Writes a llama2.c checkpoint with seeded random weights, and a matching tokenizer, in a chosen shape.

The file layout is llama2.c's legacy export (karpathy/llama2.c, run.c `read_checkpoint`/`memory_map_weights`, MIT):
seven int32 header fields (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32
weights in this order: token_embedding_table [vocab, dim], rms_att_weight [layers, dim], wq [layers, dim, dim],
wk [layers, kv_dim, dim], wv [layers, kv_dim, dim], wo [layers, dim, dim], rms_ffn_weight [layers, dim],
w1 [layers, hidden, dim], w2 [layers, dim, hidden], w3 [layers, hidden, dim], rms_final_weight [dim],
the two unused RoPE tables [seq_len, head_size / 2] each, and, when the classifier is not shared (the default here,
written as a negative vocab_size, as llama2.c's export does for an own classifier), wcls [vocab, dim].

The tokenizer (run.c `build_tokenizer` format: int32 max_token_length, then per id float32 score, int32 length,
bytes) has llama2.c's special ids (0 <unk>, 1 <s>, 2 </s>), the 256 byte-fallback pieces <0x00>..<0xFF> at ids
3..258, a single space at id 259 (the dummy prefix run.c's encoder looks up before a text prompt), and " t<id>" for
every other id, so decoded text spells the ids.

Weights are N(0, 0.02) (GPT-2/llama init scale) with RMSNorm weights of 1, float32, from numpy's PCG64 with --seed.

Presets (--shape): stories15M (dim 288, hidden 768, 6 layers, 6 heads, 6 KV heads, vocab 32000) and gqa38M (dim 512,
hidden 1376, 8 layers, 8 heads over 2 KV heads, vocab 32000). Any field can be overridden.

Usage: scripts/random-checkpoint.py OUT.bin [--tokenizer OUT-tok.bin] [--shape stories15M|gqa38M]
       [--dim D --hidden H --layers L --heads N --kv-heads K --vocab V] [--seq-len S] [--seed S] [--shared]
"""
import argparse
import struct
import sys

import numpy as np

PRESETS = {
    "stories15M": dict(dim=288, hidden=768, layers=6, heads=6, kv_heads=6, vocab=32000, seq_len=256),
    "gqa38M": dict(dim=512, hidden=1376, layers=8, heads=8, kv_heads=2, vocab=32000, seq_len=256),
}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--tokenizer")
    ap.add_argument("--shape", choices=sorted(PRESETS), default="stories15M")
    for name in ("dim", "hidden", "layers", "heads", "kv-heads", "vocab", "seq-len"):
        ap.add_argument("--" + name, type=int)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shared", action="store_true", help="share the classifier with the embedding table")
    a = ap.parse_args(argv)
    c = dict(PRESETS[a.shape])
    for k in c:
        v = getattr(a, k)
        if v is not None:
            c[k] = v
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = (c[k] for k in
                                                            ("dim", "hidden", "layers", "heads", "kv_heads", "vocab", "seq_len"))
    if min(c.values()) <= 0 or dim % heads or heads % kv_heads or (dim // heads) % 2:
        sys.exit(f"random-checkpoint: invalid shape {c}: need positive sizes, dim % heads == 0, heads % kv_heads == 0 "
                 "and an even head size")
    if vocab < 259:
        sys.exit(f"random-checkpoint: --vocab {vocab} is too small: the tokenizer needs 259 special and byte ids")
    head = dim // heads
    kv_dim = head * kv_heads
    rng = np.random.default_rng(a.seed)

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype("<f4")

    with open(a.out, "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if a.shared else -vocab, seq_len))
        parts = [
            normal(vocab, dim),
            np.ones((layers, dim), "<f4"),
            normal(layers, dim, dim), normal(layers, kv_dim, dim), normal(layers, kv_dim, dim), normal(layers, dim, dim),
            np.ones((layers, dim), "<f4"),
            normal(layers, hidden, dim), normal(layers, dim, hidden), normal(layers, hidden, dim),
            np.ones(dim, "<f4"),
            np.zeros((seq_len, head // 2), "<f4"), np.zeros((seq_len, head // 2), "<f4"),
        ]
        if not a.shared:
            parts.append(normal(vocab, dim))
        for p in parts:
            f.write(p.tobytes())
    if a.tokenizer:
        pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)]
        pieces.append(b" ")
        pieces += [b" t%d" % i for i in range(len(pieces), vocab)]
        with open(a.tokenizer, "wb") as f:
            f.write(struct.pack("<i", max(len(p) for p in pieces)))
            for i, p in enumerate(pieces):
                f.write(struct.pack("<fi", -float(i), len(p)))
                f.write(p)
    print(f"wrote {a.out}: dim {dim}, hidden {hidden}, {layers} layers, {heads} heads over {kv_heads} KV heads, "
          f"vocab {vocab}, seq_len {seq_len}, {'shared' if a.shared else 'own'} classifier, seed {a.seed}")


if __name__ == "__main__":
    main(sys.argv[1:])
