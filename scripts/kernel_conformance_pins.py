#!/usr/bin/env python3
"""Fixed values for core's KernelConformanceTest, from PyTorch (float64) with formulations independent of the
Kernels Javadoc loops: torch.softmax, torch.rsqrt, torch.nn.functional.silu, Meta llama's complex-multiply RoPE
(apply_rotary_emb), softmax(q k^T / sqrt(d)) v, torch.addmm. Run: /usr/bin/python3 scripts/kernel_conformance_pins.py
and paste the lines into KernelConformanceTest.matchesPyTorchOnFixedInputs."""
import torch, math
torch.set_printoptions(precision=17)
d = torch.float64
def show(name, t): print(name, ", ".join(repr(float(v)) for v in t.flatten()))
# softmax of 5 valid values
x = torch.tensor([1.0, 2.0, 3.0, 4.0, -1.0], dtype=d)
show("softmax", torch.softmax(x, 0))
# rmsnorm, 2 rows of 4
x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 2.0, -3.0]], dtype=d)
w = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=d)
show("rmsnorm", x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w)
# silu
show("silu", torch.nn.functional.silu(torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=d)))
# rope: Meta llama's apply_rotary_emb (complex multiply), dim 8, head 4, pos 3
x = torch.arange(1, 9, dtype=d) * 0.1
hs = 4
freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=d) / hs))
cis = torch.polar(torch.ones(hs // 2, dtype=d), 3 * freqs)
xc = torch.view_as_complex(x.reshape(2, hs // 2, 2))
show("rope", torch.view_as_real(xc * cis).flatten())
# attention: 2 heads of 2 over 1 KV head (GQA), positions 0..2
q = torch.tensor([[0.5, -1.0], [1.5, 0.25]], dtype=d)
k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=d)
v = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], dtype=d)
att = torch.softmax(q @ k.T / math.sqrt(2), -1)
show("attention_weights", att)
show("attention_out", att @ v)
# gemm: C = 1.5 * A @ B^T - 0.5 * C, A 2x3, B 4x3
A = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=d)
B = torch.tensor([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.5, 0.5, 0.5], [-2.0, 1.0, 3.0]], dtype=d)
C = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, -2.0, 0.0, 4.0]], dtype=d)
show("gemm", torch.addmm(C, A, B.T, beta=-0.5, alpha=1.5))
