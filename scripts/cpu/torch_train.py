#!/usr/bin/env python3
"""PyTorch on the CPU doing what `mambakit bench train` times: the yardstick
of issue 18 ("≥ 70× PyTorch CPU in the same run").

One training step of the same model on random tokens: forward, cross-entropy,
backward, gradient clipping to norm 1, AdamW (lr 1e-3, betas 0.9/0.95, eps
1e-8, weight decay 0.1), as framework/bench/train.go does. The model is the
Mamba block of Hugging Face's MambaForCausalLM on its PyTorch path (the one
transformers runs where the CUDA kernels are absent, i.e. on every CPU):
RMSNorm, in_proj, a causal depthwise conv1d with bias, SiLU, x_proj, dt_proj
with softplus, A = -exp(A_log), the selective scan as a loop over time steps
(h = exp(Δ·A)·h + Δ·B·u, y = C·h; its per-step slices taken by unbind,
whose backward stacks their gradients once), the D skip, the SiLU gate, out_proj, the
residual; norm_f and a head tied to the embedding. Written for this project
from the paper's equations; it shares no code with transformers.

    apt-get install python3-torch        # Debian's build (1.13 on bookworm)
    python3 scripts/cpu/torch_train.py --threads 2 --steps 5

Prints one line a step, then "tokens_per_s=<n> median_step_s=<s>": tokens/s
over the timed steps (as `mambakit bench train` computes its tokens_per_s).
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, d, n, k, r):
        super().__init__()
        din = 2 * d
        self.n, self.r = n, r
        self.norm = RMSNorm(d)
        self.in_proj = nn.Linear(d, 2 * din, bias=False)
        self.conv = nn.Conv1d(din, din, k, groups=din, padding=k - 1, bias=True)
        self.x_proj = nn.Linear(din, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, din, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(din, 1))
        self.D = nn.Parameter(torch.ones(din))
        self.out_proj = nn.Linear(din, d, bias=False)
        # Δ's bias: softplus⁻¹ of a step size log-uniform in [1e-3, 0.1],
        # the paper's initialization (as mambakit's and transformers').
        with torch.no_grad():
            nn.init.uniform_(self.dt_proj.weight, -r ** -0.5, r ** -0.5)
            dt = torch.exp(torch.rand(din) * (torch.log(torch.tensor(0.1)) - torch.log(torch.tensor(1e-3))) + torch.log(torch.tensor(1e-3)))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, hidden):
        B, L, _ = hidden.shape
        x, z = self.in_proj(self.norm(hidden)).chunk(2, dim=-1)          # (B, L, Din) each
        u = F.silu(self.conv(x.transpose(1, 2))[..., :L])                # (B, Din, L)
        dt, bm, cm = self.x_proj(u.transpose(1, 2)).split([self.r, self.n, self.n], dim=-1)
        delta = F.softplus(self.dt_proj(dt)).transpose(1, 2)             # (B, Din, L)
        A = -torch.exp(self.A_log)                                       # (Din, N)
        dA = torch.exp(delta[..., None] * A[:, None, :])                 # (B, Din, L, N)
        dBu = delta[..., None] * bm[:, None, :, :] * u[..., None]        # (B, Din, L, N)
        h = torch.zeros(B, u.shape[1], self.n, dtype=u.dtype)
        ys = []
        # unbind, not dA[:, :, t]: indexing's backward would build a zero
        # gradient of the whole (B, Din, L, N) tensor for every step.
        for a_t, bu_t, c_t in zip(dA.unbind(2), dBu.unbind(2), cm.unbind(1)):
            h = a_t * h + bu_t
            ys.append(torch.matmul(h, c_t[..., None])[..., 0])           # (B, Din)
        y = torch.stack(ys, dim=-1) + u * self.D[:, None]
        y = y * F.silu(z.transpose(1, 2))
        return hidden + self.out_proj(y.transpose(1, 2))


class Model(nn.Module):
    def __init__(self, vocab, d, layers, n, k):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(d, n, k, (d + 15) // 16) for _ in range(layers))
        self.norm_f = RMSNorm(d)

    def forward(self, ids):
        h = self.embed(ids)
        for b in self.blocks:
            h = b(h)
        return F.linear(self.norm_f(h), self.embed.weight)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    for name in ("d_model", "layers", "d_state", "vocab", "batch", "seq_len", "steps", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    m = Model(a.vocab, a.d_model, a.layers, a.d_state, 4)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    nparams = sum(x.numel() for x in m.parameters())
    print(f"model: d_model {a.d_model}, {a.layers} layers, d_state {a.d_state}, vocab {a.vocab} ({nparams} parameters); "
          f"batch {a.batch} × {a.seq_len} tokens; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    tokens = a.batch * a.seq_len

    def step():
        ids = torch.randint(0, a.vocab, (a.batch, a.seq_len + 1))
        logits = m(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for i in range(1, a.steps + 1):
        t0 = time.perf_counter()
        loss = step()
        d = time.perf_counter() - t0
        times.append(d)
        print(f"step {i}/{a.steps}  loss {loss:.4f}  {d:.3f}s  {tokens / d:.0f} tokens/s", flush=True)
    print(f"tokens_per_s={tokens * a.steps / sum(times):.1f} median_step_s={statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
