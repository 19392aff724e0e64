#!/usr/bin/python3
"""Reference values for the CPU kernels' transformer ops (rmsnorm, softmax, silu, rope, attention).

Writes ../src/test/resources/reference/transformer_ops.json. For every op it stores the inputs (float32 values),
  * "f64": the result computed with NumPy in float64 from the formulas (vectorised, independent of the Java code),
  * "f32_runc": the result of llama2.c run.c's float32 code, emulated operation by operation with np.float32
    scalars (each C float operation rounds to float32; expf/sqrtf/powf/cosf/sinf as the correctly rounded double
    function rounded to float32, which is what glibc's float functions return in practice).
Run: /usr/bin/python3 device-cpu/scripts/gen_reference.py
"""
import json
import math
import os

import numpy as np

f32 = np.float32
np.seterr(over='ignore')  # expf(100) is +inf in C as here; silu(-100) is then -0.0
rng = np.random.default_rng(20261127)


def vals(a):
    return [float(v) for v in np.asarray(a).ravel()]


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def expf(x):
    x = float(x)
    return f32(math.exp(x)) if x < 709 else f32(np.inf)


# ---------------------------------------------------------------- rmsnorm
def rmsnorm_runc(x, w, eps):
    ss = f32(0.0)
    for v in x:
        ss = f32(ss + f32(v * v))
    ss = f32(ss / f32(len(x)))
    ss = f32(ss + f32(eps))
    ss = f32(f32(1.0) / f32(math.sqrt(float(ss))))
    return [f32(w[j] * f32(ss * x[j])) for j in range(len(x))]


def rmsnorm_case():
    rows, cols, eps = 3, 10, 1e-5
    x = randn(rows, cols, scale=2.0)
    w = randn(cols)
    xd = x.astype(np.float64)
    f64 = w.astype(np.float64) * xd / np.sqrt(np.mean(xd * xd, axis=1, keepdims=True) + eps)
    runc = [v for r in range(rows) for v in rmsnorm_runc(x[r], w, eps)]
    return dict(rows=rows, cols=cols, eps=eps, x=vals(x), weight=vals(w), f64=vals(f64), f32_runc=vals(runc))


# ---------------------------------------------------------------- softmax
def softmax_runc(x):
    mx = x[0]
    for v in x[1:]:
        if v > mx:
            mx = v
    out = []
    s = f32(0.0)
    for v in x:
        e = expf(f32(v - mx))
        out.append(e)
        s = f32(s + e)
    return [f32(e / s) for e in out]


def softmax_case():
    rows, cols, valid = 3, 8, 6
    x = randn(rows, cols, scale=3.0)
    x[1, :] += f32(1000.0)   # stability: exp(1000) overflows without the max subtraction
    x[2, 2] = f32(-1e30)
    xd = x.astype(np.float64)[:, :valid]
    e = np.exp(xd - xd.max(axis=1, keepdims=True))
    f64 = np.zeros((rows, cols))
    f64[:, :valid] = e / e.sum(axis=1, keepdims=True)
    runc = np.zeros((rows, cols), dtype=np.float32)
    for r in range(rows):
        runc[r, :valid] = softmax_runc(list(x[r, :valid]))
    return dict(rows=rows, cols=cols, validCols=valid, x=vals(x), f64=vals(f64), f32_runc=vals(runc))


# ---------------------------------------------------------------- silu
def silu_case():
    x = np.concatenate([randn(13, scale=4.0), np.array([0.0, -20.0, 20.0, -100.0], dtype=np.float32)])
    xd = x.astype(np.float64)
    f64 = xd / (1.0 + np.exp(-xd))
    runc = [f32(v * f32(f32(1.0) / f32(f32(1.0) + expf(-v)))) for v in x]
    return dict(n=len(x), x=vals(x), f64=vals(f64), f32_runc=vals(runc))


# ---------------------------------------------------------------- rope
def rope_runc(x, head_size, pos):
    out = list(x)
    for i in range(0, len(x), 2):
        head_dim = i % head_size
        freq = f32(f32(1.0) / f32(math.pow(10000.0, float(f32(f32(head_dim) / f32(head_size))))))
        val = f32(f32(pos) * freq)
        fcr = f32(math.cos(float(val)))
        fci = f32(math.sin(float(val)))
        v0, v1 = x[i], x[i + 1]
        out[i] = f32(f32(v0 * fcr) - f32(v1 * fci))
        out[i + 1] = f32(f32(v0 * fci) + f32(v1 * fcr))
    return out


def rope_case(dim, head_size, pos):
    x = randn(dim)
    xd = x.astype(np.float64)
    i = np.arange(0, dim, 2)
    theta = pos / np.power(10000.0, (i % head_size) / head_size)
    z = (xd[0::2] + 1j * xd[1::2]) * np.exp(1j * theta)   # rotation of each pair as a complex number
    f64 = np.empty(dim)
    f64[0::2], f64[1::2] = z.real, z.imag
    return dict(dim=dim, headSize=head_size, pos=pos, x=vals(x), f64=vals(f64), f32_runc=vals(rope_runc(x, head_size, pos)))


# ---------------------------------------------------------------- attention
def attention_case(n_heads, n_kv_heads, head_size, pos, att_stride):
    kv_dim = n_kv_heads * head_size
    q = randn(n_heads * head_size)
    k = randn(pos + 1, kv_dim)
    v = randn(pos + 1, kv_dim)
    kv_mul = n_heads // n_kv_heads
    # float64: einsum over heads, independent of the loop structure.
    qd = q.astype(np.float64).reshape(n_heads, head_size)
    kd = k.astype(np.float64).reshape(pos + 1, n_kv_heads, head_size)
    vd = v.astype(np.float64).reshape(pos + 1, n_kv_heads, head_size)
    g = np.arange(n_heads) // kv_mul
    scores = np.einsum('hi,thi->ht', qd, kd[:, g, :]) / np.sqrt(head_size)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    att = e / e.sum(axis=1, keepdims=True)
    out = np.einsum('ht,thi->hi', att, vd[:, g, :])
    # float32 run.c emulation.
    att_runc = []
    out_runc = []
    sq = f32(math.sqrt(head_size))
    for h in range(n_heads):
        gh = h // kv_mul
        sc = []
        for t in range(pos + 1):
            s = f32(0.0)
            for i in range(head_size):
                s = f32(s + f32(q[h * head_size + i] * k[t, gh * head_size + i]))
            sc.append(f32(s / sq))
        a = softmax_runc(sc)
        att_runc.append(a)
        xb = [f32(0.0)] * head_size
        for t in range(pos + 1):
            for i in range(head_size):
                xb[i] = f32(xb[i] + f32(a[t] * v[t, gh * head_size + i]))
        out_runc.extend(xb)
    return dict(nHeads=n_heads, nKvHeads=n_kv_heads, headSize=head_size, pos=pos, attStride=att_stride,
                q=vals(q), k=vals(k), v=vals(v), f64=vals(out), att_f64=vals(att),
                f32_runc=vals(out_runc), att_f32_runc=vals([x for a in att_runc for x in a]))


def main():
    data = dict(
        generator='device-cpu/scripts/gen_reference.py, numpy ' + np.__version__,
        rmsnorm=rmsnorm_case(),
        softmax=softmax_case(),
        silu=silu_case(),
        rope=[rope_case(16, 8, 5), rope_case(12, 4, 0), rope_case(8, 8, 1000)],
        attention=[attention_case(4, 2, 8, 5, 7), attention_case(2, 2, 4, 0, 1), attention_case(3, 1, 6, 9, 16)],
    )
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, '..', 'src', 'test', 'resources', 'reference', 'transformer_ops.json')
    with open(out, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    print('wrote', os.path.normpath(out))


if __name__ == '__main__':
    main()
