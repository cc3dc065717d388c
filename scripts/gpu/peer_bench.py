"""The peer anchors of issue 14: state-spaces/mamba, with Dao-AILab/causal-conv1d
and with it disabled, on the same card as mambakit's own benchmarks and at the
same shapes.

Run by `bash scripts/gpu/peer.sh bench` (PYTHONPATH holds the two packages built
in place under .gpu/peer/build). Sections, each guarded so one failure does not
lose the rest:

  info      device, torch, triton, the packages and their commits
  train     a full training step of MambaLMHeadModel, the mamba-130m shape
            (d_model 768, 24 layers, vocab 50277 padded to 50280, d_state 16),
            batch 8 x 2048 random tokens: forward, cross-entropy, backward,
            clip_grad_norm 1.0, AdamW; fp32, tf32 and bf16 autocast (fp32
            master weights); with causal-conv1d (the fused mamba_inner_fn
            path) and without it (nn.Conv1d + selective_scan_fn)
  generate  MambaLMHeadModel.generate, greedy, a 1-token prompt and 256 new
            tokens: batch 1 with and without CUDA graphs, CUDA graphs at
            batch 1, 8, 64, 256 (fp32), bf16 weights at batch 1 and 256; with
            and without causal-conv1d's update kernel
  scan      selective_scan_fn alone, fp32, B 8, D 1024, N 16, L 2048 to 65536,
            with the inputs of mambakit's `bench scan` (input-dependent B and
            C, D skip, gate z, delta bias, softplus); forward and backward
  matmul    torch.mm 8192^3, fp32, tf32, bf16

Rows go to the TSV as they are measured: name, setting, value, unit.
"""
import argparse
import collections
import contextlib
import importlib
import importlib.util
import os
import sys
import time
import traceback
import types

T0 = time.time()
ARGS = None


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


class TSV:
    def __init__(self, path):
        self.f = open(path, "w") if path else None
        self.row("name", "setting", "value", "unit")

    def row(self, name, setting, value, unit):
        if isinstance(value, float):
            value = f"{value:.6g}"
        line = f"{name}\t{setting}\t{value}\t{unit}"
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()
        if name != "name":
            print("  tsv: " + line.replace("\t", " | "), flush=True)


tsv = None


def over_budget(what):
    if time.time() - T0 > ARGS.budget:
        log(f"{what}: skipped, over the {ARGS.budget:.0f} s budget")
        tsv.row(what, "skipped (budget)", "nan", "-")
        return True
    return False


def guarded(name, fn, *a, **k):
    """Runs fn; on an exception logs the traceback and a failed row."""
    try:
        return fn(*a, **k)
    except Exception as e:  # noqa: BLE001 - one failure must not lose the rest
        log(f"{name}: FAILED: {type(e).__name__}: {e}")
        traceback.print_exc()
        sys.stdout.flush()
        tsv.row(name, f"failed: {type(e).__name__}", "nan", "-")
        try:
            import torch
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass
        return None


# ---------------------------------------------------------------- imports

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# mamba_ssm's autocast paths (mamba_inner_fn, the Triton layer norm) call
# torch.get_autocast_gpu_dtype(), deprecated since torch 2.4; keep it there.
if not hasattr(torch, "get_autocast_gpu_dtype"):
    torch.get_autocast_gpu_dtype = lambda: torch.get_autocast_dtype("cuda")
    print("shim: torch.get_autocast_gpu_dtype = torch.get_autocast_dtype('cuda')", flush=True)

HAVE_CONV = False
try:
    import causal_conv1d  # noqa: F401
    import causal_conv1d_cuda  # noqa: F401
    HAVE_CONV = True
except Exception:  # noqa: BLE001
    print("causal_conv1d does not import: only the runs without it", flush=True)
    traceback.print_exc()


def import_mamba():
    """Imports mamba_ssm; if its __init__ fails (it imports Mamba2 and Mamba3,
    which this benchmark does not use), retries with a bare package and stubs
    for the modules that fail, so Mamba-1 is still measured."""
    try:
        import mamba_ssm  # noqa: F401
        from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel  # noqa: F401
        return "full"
    except Exception:  # noqa: BLE001
        print("import mamba_ssm failed; retrying without its __init__ (Mamba2/Mamba3 stubbed where they fail):", flush=True)
        traceback.print_exc()
    for k in [k for k in sys.modules if k == "mamba_ssm" or k.startswith("mamba_ssm.")]:
        del sys.modules[k]
    spec = importlib.util.find_spec("mamba_ssm")
    pkg = types.ModuleType("mamba_ssm")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__version__ = "?"
    sys.modules["mamba_ssm"] = pkg
    for name, attr in (("mamba_ssm.modules.mamba2", "Mamba2"), ("mamba_ssm.modules.mamba3", "Mamba3")):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            print(f"{name} does not import, stubbed:", flush=True)
            traceback.print_exc()
            stub = types.ModuleType(name)
            setattr(stub, attr, None)
            sys.modules[name] = stub
    importlib.import_module("mamba_ssm.models.mixer_seq_simple")
    return "partial (see the tracebacks above)"


MAMBA_IMPORT = import_mamba()
import mamba_ssm  # noqa: E402
import mamba_ssm.modules.mamba_simple as ms  # noqa: E402
from mamba_ssm.models.config_mamba import MambaConfig  # noqa: E402
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel  # noqa: E402
from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: E402

try:
    import selective_scan_cuda  # noqa: F401
    HAVE_SCAN_CUDA = True
except Exception:  # noqa: BLE001
    HAVE_SCAN_CUDA = False

# ------------------------------------------------ which path the model takes
#
# mamba_simple.Mamba checks its module-level names at call time:
#   forward (training, no inference_params): the fused mamba_inner_fn
#     (causal_conv1d_fwd + selective_scan_cuda.fwd, out_proj inside one
#     autograd function) if use_fast_path and causal_conv1d_fn is not None;
#     else x, z split, nn.Conv1d (or causal_conv1d_fn when not None, as in
#     the generate prefill), x_proj, dt_proj, selective_scan_fn, out_proj.
#   step (decoding): causal_conv1d_update if not None, else a torch.roll
#     conv; selective_state_update (Triton) if it imported, else einsums.
# Disabling causal-conv1d sets causal_conv1d_fn and causal_conv1d_update to
# None there (selective_scan_interface keeps its own copies, used only inside
# mamba_inner_fn, which is then never called). The names are wrapped to count
# calls, so each run reports the path it took.

CALLS = collections.Counter()
ORIG = {
    "causal_conv1d_fn": ms.causal_conv1d_fn,
    "causal_conv1d_update": ms.causal_conv1d_update,
    "mamba_inner_fn": ms.mamba_inner_fn,
    "selective_scan_fn": ms.selective_scan_fn,
    "selective_state_update": ms.selective_state_update,
}


def counted(name, f):
    if f is None:
        return None

    def w(*a, **k):
        CALLS[name] += 1
        return f(*a, **k)
    return w


for _n in ("mamba_inner_fn", "selective_scan_fn", "selective_state_update"):
    setattr(ms, _n, counted(_n, ORIG[_n]))


def set_conv(on):
    if on and ORIG["causal_conv1d_fn"] is None:
        raise RuntimeError("causal-conv1d is not available")
    for n in ("causal_conv1d_fn", "causal_conv1d_update"):
        setattr(ms, n, counted(n, ORIG[n]) if on else None)


def conv_settings():
    return [True, False] if HAVE_CONV and ORIG["causal_conv1d_fn"] is not None else [False]


def conv_label(on):
    return "causal-conv1d" if on else "no causal-conv1d"


def path_used(decode=False):
    c = CALLS
    if decode:
        conv = "causal_conv1d_update" if c["causal_conv1d_update"] else "torch.roll conv"
        ssm = "selective_state_update (Triton)" if c["selective_state_update"] else "einsum step"
        return f"{conv} + {ssm}"
    if c["mamba_inner_fn"]:
        return "fused mamba_inner_fn (causal_conv1d + selective_scan_cuda)"
    conv = "causal_conv1d_fn" if c["causal_conv1d_fn"] else "nn.Conv1d"
    return f"{conv} + selective_scan_fn (unfused)"


def set_tf32(on):
    try:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
    except (RuntimeError, AttributeError):  # the fp32_precision API only
        torch.backends.cuda.matmul.fp32_precision = "tf32" if on else "ieee"
        torch.backends.cudnn.conv.fp32_precision = "tf32" if on else "ieee"


def sync():
    torch.cuda.synchronize()


def free():
    import gc
    gc.collect()
    torch.cuda.empty_cache()


def config():
    # create_block pops ssm_cfg["layer"] (default "Mamba1"); named anyway.
    return MambaConfig(d_model=768, n_layer=24, vocab_size=50277, ssm_cfg={"layer": "Mamba1"},
                       rms_norm=True, residual_in_fp32=True, fused_add_norm=True,
                       pad_vocab_size_multiple=8)


def new_model(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return MambaLMHeadModel(config(), device="cuda", dtype=dtype)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


# ---------------------------------------------------------------- info

def section_info():
    p = torch.cuda.get_device_properties(0)
    log(f"device: {torch.cuda.get_device_name()} ({p.multi_processor_count} SMs, {p.total_memory / 2**30:.0f} GiB, sm_{p.major}{p.minor})")
    import triton
    try:
        import transformers
        tv = transformers.__version__
    except Exception:  # noqa: BLE001
        tv = "-"
    log(f"torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}, transformers {tv}, python {sys.version.split()[0]}")
    log(f"mamba_ssm {getattr(mamba_ssm, '__version__', '?')} import {MAMBA_IMPORT}, selective_scan_cuda {HAVE_SCAN_CUDA}; "
        f"causal_conv1d {getattr(sys.modules.get('causal_conv1d'), '__version__', '-')} import {HAVE_CONV}")
    log("selective_state_update (Triton) " + ("available" if ORIG["selective_state_update"] else "MISSING: decode takes the einsum step"))
    tsv.row("device", torch.cuda.get_device_name().replace("\t", " "), p.multi_processor_count, "SMs")
    tsv.row("torch", torch.__version__, "nan", "-")
    tsv.row("triton", triton.__version__, "nan", "-")
    vf = os.environ.get("PEER_VERSIONS")
    if vf and os.path.exists(vf):
        for line in open(vf):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 3:
                log(f"{f[0]} commit {f[1]} ({f[2]})")
                tsv.row(f"commit {f[0]}", f[1], "nan", f[2])


# ---------------------------------------------------------------- train

def train_run(mode, conv):
    name = f"train {mode}"
    setting = conv_label(conv)
    if over_budget(f"{name} {setting}"):
        return
    set_conv(conv)
    set_tf32(mode == "tf32")
    B, L = ARGS.batch, ARGS.seqlen
    model = new_model()
    model.train()
    params = list(model.parameters())
    try:
        opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
        fused = "fused AdamW"
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
        fused = "AdamW"
    g = torch.Generator(device="cuda").manual_seed(1)
    toks = torch.randint(0, 50277, (B, L + 1), device="cuda", generator=g)
    x, y = toks[:, :-1].contiguous(), toks[:, 1:].contiguous()
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if mode == "bf16" else contextlib.nullcontext

    def step():
        opt.zero_grad(set_to_none=True)
        with amp():
            logits = model(x).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    CALLS.clear()
    t = time.perf_counter()
    loss = step()
    sync()
    path = path_used()
    log(f"{name}, {setting}: path {path}; first step {time.perf_counter() - t:.2f} s (compiles), loss {loss.item():.3f}")
    for _ in range(ARGS.warmup - 1):
        step()
    ts = []
    for _ in range(ARGS.steps):
        sync()
        t = time.perf_counter()
        loss = step()
        sync()
        ts.append(time.perf_counter() - t)
    ms_ = median(ts) * 1e3
    tps = B * L / median(ts)
    log(f"{name}, {setting}: {ms_:.1f} ms/step (min {min(ts) * 1e3:.1f}, max {max(ts) * 1e3:.1f}), "
        f"{tps:.0f} tokens/s, loss {loss.item():.3f}, {fused}, peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    tsv.row(name, setting, ms_, "ms/step")
    tsv.row(name, setting, tps, "tokens/s")
    tsv.row(name + " path", setting + ": " + path, 1 if CALLS["mamba_inner_fn"] else 0, "mamba_inner_fn used")
    del model, opt, params
    torch.cuda.reset_peak_memory_stats()
    free()


def section_train():
    log(f"== train: MambaLMHeadModel 768 x 24, vocab 50280, batch {ARGS.batch} x {ARGS.seqlen}, "
        f"median of {ARGS.steps} steps after {ARGS.warmup} warm-up, wall clock with synchronize")
    for mode in ARGS.train_modes.split(","):
        for conv in conv_settings():
            guarded(f"train {mode} {conv_label(conv)}", train_run, mode, conv)
    set_tf32(False)


# ---------------------------------------------------------------- generate

def gen_run(model, dlabel, batch, cg, conv):
    name = f"generate {dlabel} batch {batch}" + (" cuda graphs" if cg else " no graphs")
    setting = conv_label(conv)
    if over_budget(f"{name} {setting}"):
        return
    set_conv(conv)
    model._decoding_cache = None  # graphs captured under the other setting must go
    free()
    new = ARGS.gen_tokens
    g = torch.Generator(device="cuda").manual_seed(2)
    prompt = torch.randint(0, 50277, (batch, ARGS.prompt_len), device="cuda", generator=g)
    max_length = ARGS.prompt_len + new
    CALLS.clear()
    # Warm-up of the same shape (captures the graph); without graphs a short
    # run is enough to compile the Triton kernels.
    t = time.perf_counter()
    out = model.generate(prompt, max_length=max_length if cg else ARGS.prompt_len + 16, top_k=1, cg=cg)
    sync()
    warm = time.perf_counter() - t
    path = path_used(decode=True)
    reps = ARGS.gen_reps if cg else 1
    ts = []
    for _ in range(reps):
        sync()
        t = time.perf_counter()
        out = model.generate(prompt, max_length=max_length, top_k=1, cg=cg)
        sync()
        ts.append(time.perf_counter() - t)
    got = out.shape[1] - ARGS.prompt_len
    el = median(ts)
    tps = batch * got / el
    log(f"{name}, {setting}: {tps:.0f} tokens/s, {el / got * 1e3:.3f} ms/step ({got} new tokens, {reps} timed, "
        f"warm-up {warm:.1f} s); path {path}")
    tsv.row(name, setting, tps, "tokens/s")
    tsv.row(name, setting, el / got * 1e3, "ms/step")
    tsv.row(name + " path", setting + ": " + path, 1 if CALLS["causal_conv1d_update"] else 0, "causal_conv1d_update used")
    model._decoding_cache = None


def section_generate():
    log(f"== generate: greedy (top_k 1), prompt {ARGS.prompt_len} token(s), {ARGS.gen_tokens} new tokens; "
        "time of a whole generate() (prompt step included) after a warm-up of the same shape")
    set_tf32(False)
    runs = [(1, True), (1, False)] + [(b, True) for b in ARGS.gen_batches if b != 1]
    model = new_model(torch.float32)
    model.eval()
    for batch, cg in runs:
        for conv in conv_settings():
            guarded(f"generate fp32 batch {batch} cg {cg} {conv_label(conv)}", gen_run, model, "fp32", batch, cg, conv)
    del model
    free()
    if ARGS.bf16_batches:
        model = new_model(torch.bfloat16)
        model.eval()
        for batch in ARGS.bf16_batches:
            for conv in conv_settings():
                guarded(f"generate bf16 batch {batch} {conv_label(conv)}", gen_run, model, "bf16", batch, True, conv)
        del model
        free()


# ---------------------------------------------------------------- scan

def event_median(f, warm, reps):
    for _ in range(warm):
        f()
    sync()
    ts = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        f()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e))
    return median(ts)


def scan_run(L):
    if over_budget(f"scan L {L}"):
        return
    B, D, N = 8, 1024, 16
    g = torch.Generator(device="cuda").manual_seed(3)

    def U(shape, lo, hi, grad=True):
        t = torch.rand(*shape, device="cuda", generator=g) * (hi - lo) + lo
        return t.requires_grad_(grad)
    # mambakit's bench scan: the same ranges, in mamba's layouts (B, D, L) and (B, N, L).
    u = U((B, D, L), -1, 1)
    delta = U((B, D, L), -6, 0)
    delta_bias = U((D,), -1, 0)
    A = U((D, N), -4, -0.1)
    Bm = U((B, N, L), -1, 1)
    Cm = U((B, N, L), -1, 1)
    Dskip = U((D,), 0.5, 1.5)
    z = U((B, D, L), -2, 2)
    dout = U((B, D, L), -1, 1, grad=False)

    def fwd():
        with torch.no_grad():
            return selective_scan_fn(u, delta, A, Bm, Cm, Dskip, z=z, delta_bias=delta_bias,
                                     delta_softplus=True, return_last_state=True)
    f_ms = event_median(fwd, ARGS.scan_warmup, ARGS.scan_reps)
    out = selective_scan_fn(u, delta, A, Bm, Cm, Dskip, z=z, delta_bias=delta_bias, delta_softplus=True)
    ins = (u, delta, A, Bm, Cm, Dskip, z, delta_bias)

    def bwd():
        # autograd.grad: fresh gradients each run, no accumulation into .grad
        return torch.autograd.grad(out, ins, dout, retain_graph=True)
    b_ms = event_median(bwd, ARGS.scan_warmup, ARGS.scan_reps)
    log(f"scan L {L}: forward {f_ms:.3f} ms, backward {b_ms:.3f} ms")
    tsv.row(f"scan L {L}", "forward", f_ms, "ms")
    tsv.row(f"scan L {L}", "backward", b_ms, "ms")
    del out, ins, u, delta, delta_bias, A, Bm, Cm, Dskip, z, dout
    free()


def section_scan():
    log(f"== scan: selective_scan_fn fp32, B 8, D 1024, N 16, B and C (B, N, L), D skip, gate z, delta bias, "
        f"softplus; median of {ARGS.scan_reps} after {ARGS.scan_warmup} warm-up, CUDA events")
    for L in ARGS.scan_lens:
        guarded(f"scan L {L}", scan_run, L)


# ---------------------------------------------------------------- matmul

def section_matmul():
    n = 8192
    log(f"== matmul: torch.mm {n}^3, median of 10 after 3 warm-up, CUDA events")
    a = torch.rand(n, n, device="cuda") * 2 - 1
    b = torch.rand(n, n, device="cuda") * 2 - 1
    for mode in ("fp32", "tf32", "bf16"):
        if over_budget(f"matmul {mode}"):
            return
        set_tf32(mode == "tf32")
        x, y = (a.bfloat16(), b.bfloat16()) if mode == "bf16" else (a, b)
        ms_ = event_median(lambda: torch.mm(x, y), 3, 10)
        tf = 2 * n ** 3 / (ms_ * 1e-3) / 1e12
        log(f"matmul {mode}: {ms_:.3f} ms, {tf:.1f} TFLOP/s")
        tsv.row(f"matmul {n}^3", mode, tf, "TFLOP/s")
    set_tf32(False)


# ---------------------------------------------------------------- main

def ints(s):
    return [int(x) for x in s.split(",") if x]


def main():
    global ARGS, tsv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tsv", default="peer.tsv")
    ap.add_argument("--sections", default="info,train,generate,scan,matmul")
    ap.add_argument("--budget", type=float, default=300, help="seconds; later runs are skipped past it")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seqlen", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--train-modes", default="fp32,tf32,bf16")
    ap.add_argument("--prompt-len", type=int, default=1)
    ap.add_argument("--gen-tokens", type=int, default=256)
    ap.add_argument("--gen-reps", type=int, default=3, help="timed generate() runs with graphs (median)")
    ap.add_argument("--gen-batches", type=ints, default=[1, 8, 64, 256])
    ap.add_argument("--bf16-batches", type=ints, default=[1, 256])
    ap.add_argument("--scan-lens", type=ints, default=[2048, 8192, 32768, 65536])
    ap.add_argument("--scan-reps", type=int, default=20)
    ap.add_argument("--scan-warmup", type=int, default=3)
    ARGS = ap.parse_args()
    tsv = TSV(ARGS.tsv)
    sections = {"info": section_info, "train": section_train, "generate": section_generate,
                "scan": section_scan, "matmul": section_matmul}
    for s in ARGS.sections.split(","):
        if s not in sections:
            sys.exit(f"unknown section {s!r}; have {','.join(sections)}")
    for s in ARGS.sections.split(","):
        guarded(s, sections[s])
    log(f"done in {time.time() - T0:.0f} s")


if __name__ == "__main__":
    main()
