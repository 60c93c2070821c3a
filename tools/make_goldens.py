"""Regenerates the golden parity files models/testdata/golden/<case>.safetensors
from the independent PyTorch references in tools/torch_models.py.

    /usr/bin/python3 tools/make_goldens.py        # from the repository root

(the system Python with Debian's python3-torch; CI never runs this: the
goldens are committed and models/golden_test.go only reads them).

Each file holds, for one tiny model (V 37, block 16, batch 2 x 16 tokens):
- every weight under its PyTorch state_dict name (tied models: both names,
  equal data), float32;
- "inputs", "targets": the token batch, I32 (B, T);
- "logits": expected logits (B, T, V), F32; "loss": mean cross-entropy, F32 [];
- "grad/<name>": d loss / d parameter for every parameter of named_parameters()
  (a tied matrix appears once, under its first name), F32;
- RoPE models only: "long_inputs" (1, 2*block) and "long_logits", to check
  that positions beyond the training length follow the same formula;
- __metadata__: "config" (models.Config JSON), "loss" (full precision), "case",
  "named_parameters" (JSON list: PyTorch's parameter registration order).

Weights are drawn per the spec's init and then replaced by larger random
values (seeded) so that every path carries signal; everything is computed in
float64 from float32-representable weights, then stored as float32.
"""

import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402
import st  # noqa: E402

V, BLOCK, B = 37, 16, 2

CASES = [
    # name, family, shape (n_embd, n_head, n_layer), knob overrides
    ("gpt2", "gpt2", (16, 2, 2), {}),
    ("gpt2-nobias-untied-silu", "gpt2", (16, 2, 2), dict(bias=False, tie_embeddings=False, activation="silu")),
    ("gpt2-rope-qknorm-rms-relu", "gpt2", (16, 4, 2), dict(rope=True, qk_norm=True, norm="rms", activation="relu")),
    ("gpt2-rope-swiglu", "gpt2-rope-swiglu", (8, 2, 2), {}),
    ("gpt2-rope-swiglu-learnedpos-layer-gelu-untied", "gpt2-rope-swiglu", (8, 2, 2),
     dict(rope=False, qk_norm=False, norm="layer", activation="gelu", tie_embeddings=False)),
    ("silia", "silia", (8, 2, 2), {}),
    ("silia-learnedpos-layer-relu-untied", "silia", (8, 3, 2),
     dict(rope=False, norm="layer", activation="relu", tie_embeddings=False)),
    ("silia-xga", "silia-xga", (8, 2, 2), {}),
    ("silia-xga-nogate-noxsa", "silia-xga", (8, 2, 2), dict(gate=False, xsa=False)),
    ("silia-xga-gate-noxsa-noqknorm-gelu-untied", "silia-xga", (6, 3, 2),
     dict(xsa=False, qk_norm=False, activation="gelu", tie_embeddings=False)),
]


def perturb(model, gen):
    """Replaces every parameter by seeded values of a useful scale."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if name.endswith("bias"):
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "wte" in name or "wpe" in name or name.startswith("embed"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))


def make_case(idx, name, family, shape, knobs, outdir):
    n_embd, n_head, n_layer = shape
    cfg = tm.default_config(family, n_embd=n_embd, n_head=n_head, n_layer=n_layer,
                            block_size=BLOCK, vocab_size=V, **knobs)
    torch.manual_seed(1000 + idx)
    model = tm.build(cfg)
    gen = torch.Generator().manual_seed(2000 + idx)
    perturb(model, gen)
    with torch.no_grad():  # make every weight exactly float32-representable
        for p in model.parameters():
            p.copy_(p.float().double())
    model = model.double().eval()
    if cfg.tie_embeddings:
        a, b = ("transformer.wte", "lm_head") if family == "gpt2" else ("embed", "unembed")
        assert model.get_submodule(a).weight is model.get_submodule(b).weight

    inputs = torch.randint(0, V, (B, BLOCK), generator=gen)
    targets = torch.randint(0, V, (B, BLOCK), generator=gen)
    logits, loss = model(inputs, targets)
    model.zero_grad()
    loss.backward()

    out = {}
    for k, v in model.state_dict().items():
        out[k] = v.float()
    out["inputs"] = inputs.to(torch.int32)
    out["targets"] = targets.to(torch.int32)
    out["logits"] = logits.detach().float()
    out["loss"] = loss.detach().float().reshape(())
    for k, p in model.named_parameters():
        out["grad/" + k] = p.grad.float()
    if cfg.rope:
        long_inputs = torch.randint(0, V, (1, 2 * BLOCK), generator=gen)
        with torch.no_grad():
            long_logits, _ = model(long_inputs)
        out["long_inputs"] = long_inputs.to(torch.int32)
        out["long_logits"] = long_logits.float()
    meta = {
        "case": name,
        "config": json.dumps(cfg.to_json_dict(), separators=(",", ":")),
        "loss": repr(loss.item()),
        "named_parameters": json.dumps([k for k, _ in model.named_parameters()]),
        "generator": "tools/make_goldens.py (torch %s)" % torch.__version__,
    }
    path = os.path.join(outdir, name + ".safetensors")
    st.save(path, out, meta)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"{path}: {nparam} params, loss {loss.item():.6f}, {os.path.getsize(path)} bytes")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = os.path.join(root, "models", "testdata", "golden")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for i, (name, family, shape, knobs) in enumerate(CASES):
        make_case(i, name, family, shape, knobs, outdir)


if __name__ == "__main__":
    main()
