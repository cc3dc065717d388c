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
model = MambaForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32).eval()
ids = torch.tensor([[int(l) for l in open(ids_path) if l.strip()]])
with torch.no_grad():
    logp = torch.log_softmax(model(ids).logits.double(), dim=-1)[0]
worst = 0.0
rows = list(csv.DictReader(open(ours_path)))
for r in rows:
    t, tok, lp = int(r["position"]), int(r["token"]), float(r["logprob_nats"])
    assert ids[0, t].item() == tok, f"token mismatch at {t}"
    worst = max(worst, abs(logp[t - 1, tok].item() - lp))
print(f"{ckpt}: loaded by MambaForCausalLM ({sum(p.numel() for p in model.parameters())} parameters); "
      f"{len(rows)} tokens; max |logprob_hf - logprob_mambakit| = {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
