#!/usr/bin/env python3
"""Make a Hugging Face Mamba parity case (the layout of framework/backbone/testdata/hf-mamba).

    python3 make_fixture.py OUT_DIR --vocab 50 --hidden 24 --state 5 --layers 2 --conv 3 --expand 3 \
        --rank 3 --batch 2 --seq-len 40 --seed 7

Writes config.json and model.safetensors (a random float32 MambaForCausalLM), expected.safetensors
(input_ids; logits, hidden.i, loss and grad.<name> computed in float64 on the CPU with the pure-PyTorch
path; a greedy continuation) and case.json. Run the Go parity test on it with
MAMBA_HF_FIXTURES=OUT_DIR go test ./framework/backbone -run TestMatchesHF -v.
"""
import argparse, json, os

import torch
from safetensors.torch import save_file
from transformers import MambaConfig, MambaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("out")
for name, default in [("vocab", 64), ("hidden", 32), ("state", 8), ("layers", 2), ("conv", 4), ("expand", 2),
                      ("rank", 0), ("batch", 2), ("seq_len", 33), ("seed", 1)]:
    p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
a = p.parse_args()

torch.manual_seed(a.seed)
cfg = MambaConfig(vocab_size=a.vocab, hidden_size=a.hidden, state_size=a.state, num_hidden_layers=a.layers,
                  conv_kernel=a.conv, expand=a.expand, time_step_rank=a.rank or "auto", use_cache=False,
                  use_mambapy=False, initializer_range=0.1, tie_word_embeddings=True)
model = MambaForCausalLM(cfg).float()
os.makedirs(a.out, exist_ok=True)
model.save_pretrained(a.out, safe_serialization=True)

m = MambaForCausalLM.from_pretrained(a.out, torch_dtype=torch.float64).to("cpu")
g = torch.Generator().manual_seed(a.seed)
ids = torch.randint(0, a.vocab, (a.batch, a.seq_len), generator=g)
out = m(ids, labels=ids, output_hidden_states=True, use_cache=False)
out.loss.backward()
exp = {"input_ids": ids.to(torch.int64), "logits": out.logits.detach(), "loss": out.loss.detach().reshape(1)}
for i, h in enumerate(out.hidden_states):
    exp[f"hidden.{i}"] = h.detach().contiguous()
params = []
for name, prm in m.named_parameters():
    exp["grad." + name] = prm.grad.detach().contiguous()
    params.append("grad." + name)
prompt = ids[:1, :8]
with torch.no_grad():
    gen = m.generate(prompt, max_new_tokens=24, do_sample=False, use_cache=True)
exp["generate.prompt"], exp["generate.output"] = prompt.clone().contiguous(), gen.clone().contiguous()
save_file(exp, os.path.join(a.out, "expected.safetensors"))
json.dump({"batch": a.batch, "seq_len": a.seq_len, "seed": a.seed, "loss": out.loss.item(), "params": params},
          open(os.path.join(a.out, "case.json"), "w"), indent=1)
print(f"{a.out}: loss {out.loss.item():.6f}, {len(params)} gradients, {len(out.hidden_states)} hidden states")
