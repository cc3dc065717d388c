"""PyTorch selective scans, for comparison with mambakit's CUDA scan.

Forward only, float32, B 8, D 1024, N 16, the semantics of kernels.Scan
without gate, skip or resets: dt = softplus(delta + bias), h_t = exp(dt A) h_{t-1}
+ dt B_t u_t, y_t = C_t . h_t. Two versions:

  sequential: a Python loop over t of tensor operations (the plain scan);
  parallel:   a Hillis-Steele associative scan over t, log2(L) steps on
              B.L.D.N tensors (what a framework without a fused kernel does).

Timed with CUDA events after warm-up, median of a few runs.
"""
import math
import sys
import time

import torch


def inputs(B, L, D, N, dev):
    g = torch.Generator(device=dev).manual_seed(0)
    u = torch.rand(B, L, D, device=dev, generator=g) * 2 - 1
    delta = torch.rand(B, L, D, device=dev, generator=g) * 6 - 6
    bias = torch.rand(D, device=dev, generator=g) - 1
    A = -(torch.rand(D, N, device=dev, generator=g) * 3.9 + 0.1)
    Bm = torch.rand(B, L, N, device=dev, generator=g) * 2 - 1
    Cm = torch.rand(B, L, N, device=dev, generator=g) * 2 - 1
    return u, delta, bias, A, Bm, Cm


def sequential(u, delta, bias, A, Bm, Cm):
    B, L, D = u.shape
    N = A.shape[1]
    dt = torch.nn.functional.softplus(delta + bias)
    h = torch.zeros(B, D, N, device=u.device)
    ys = []
    for t in range(L):
        h = torch.exp(dt[:, t, :, None] * A) * h + (dt[:, t] * u[:, t])[:, :, None] * Bm[:, t, None, :]
        ys.append((h * Cm[:, t, None, :]).sum(-1))
    return torch.stack(ys, 1)


def parallel(u, delta, bias, A, Bm, Cm):
    dt = torch.nn.functional.softplus(delta + bias)
    a = torch.exp(dt[..., None] * A)  # (B, L, D, N)
    b = (dt * u)[..., None] * Bm[:, :, None, :]
    L = u.shape[1]
    k = 1
    while k < L:
        b = torch.cat([b[:, :k], a[:, k:] * b[:, :-k] + b[:, k:]], 1)
        a = torch.cat([a[:, :k], a[:, k:] * a[:, :-k]], 1)
        k *= 2
    return (b * Cm[:, :, None, :]).sum(-1)


def timed(f, reps):
    f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        f()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


def main():
    dev = "cuda"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    B, D, N = 8, 1024, 16
    # Agreement of the two on a small case.
    x = inputs(2, 300, 64, N, dev)
    ys, yp = sequential(*x), parallel(*x)
    print(f"check: sequential vs parallel rel err {((ys - yp).norm() / ys.norm()).item():.2e}")
    print(f"{'L':>6} {'version':>10} {'fwd ms':>10}")
    for L in (2048, 8192):
        x = inputs(B, L, D, N, dev)
        for name, f, reps in (("sequential", sequential, 3), ("parallel", parallel, 5)):
            try:
                ms = timed(lambda: f(*x), reps)
                print(f"{L:>6} {name:>10} {ms:>10.2f}")
            except torch.OutOfMemoryError:
                print(f"{L:>6} {name:>10} {'OOM':>10}")
            torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
