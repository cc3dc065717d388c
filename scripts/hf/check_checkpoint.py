#!/usr/bin/env python3
"""Check that a mambakit checkpoint loads in transformers' MambaForCausalLM and gives mambakit's numbers.

    mambakit encode --modality M --option tokenizer=CKPT FILE -o ids.txt     # one id per line
    mambakit score --checkpoint CKPT FILE > ours.csv
    python3 check_checkpoint.py CKPT ids.txt ours.csv

Prints the largest difference between the two log-probabilities of each token and exits non-zero above 1e-4.
"""
import csv, sys

import torch
from transformers import MambaForCausalLM

ckpt, ids_path, ours_path = sys.argv[1:4]
ids = torch.tensor([[int(l) for l in open(ids_path) if l.strip()]])
rows = list(csv.DictReader(open(ours_path)))


def worst_diff(dtype, **overrides):
    model = MambaForCausalLM.from_pretrained(ckpt, torch_dtype=dtype, **overrides).eval()
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits.double(), dim=-1)[0]
    worst = 0.0
    for r in rows:
        t, tok, lp = int(r["position"]), int(r["token"]), float(r["logprob_nats"])
        assert ids[0, t].item() == tok, f"token mismatch at {t}"
        worst = max(worst, abs(logp[t - 1, tok].item() - lp))
    return worst, sum(p.numel() for p in model.parameters())


# The sequential scan in float64 is the ground truth; transformers' default
# float32 path may use an associative (parallel) scan.
ref, n = worst_diff(torch.float64, use_associative_scan=False)
print(f"{ckpt}: loaded by MambaForCausalLM ({n} parameters), {len(rows)} tokens")
print(f"  max |logprob_hf - logprob_mambakit|, HF float64 sequential scan: {ref:.2e}")
for assoc in (False, True):
    w, _ = worst_diff(torch.float32, use_associative_scan=assoc)
    print(f"  max |logprob_hf - logprob_mambakit|, HF float32, use_associative_scan={assoc}: {w:.2e}")
sys.exit(0 if ref < 1e-4 else 1)
