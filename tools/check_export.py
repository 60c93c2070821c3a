"""Checks that Go-exported safetensors files load into the PyTorch reference
models with strict load_state_dict and reproduce the golden logits.

    mkdir -p /tmp/exports
    TINYSCALE_EXPORT_DIR=/tmp/exports go test ./models/ -run TestExportGoldens
    /usr/bin/python3 tools/check_export.py /tmp/exports

For every <case>.safetensors in the directory: builds the model from the
"config" metadata, loads the file with strict=True, runs the golden inputs
of models/testdata/golden/<case>.safetensors and compares the logits.
Exits non-zero on any mismatch.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402
import st  # noqa: E402


def check(path, golden_dir):
    tensors, meta = st.load(path)
    cfg = tm.Config(**json.loads(meta["config"]))
    assert meta.get("family") == cfg.family, (meta.get("family"), cfg.family)
    json.loads(meta.get("tokenizer", "{}"))
    model = tm.build(cfg).double().eval()
    model.load_state_dict({k: v.double() for k, v in tensors.items()}, strict=True)
    if cfg.tie_embeddings:  # still tied after loading both names
        a, b = ("transformer.wte", "lm_head") if cfg.family == "gpt2" else ("embed", "unembed")
        assert model.get_submodule(a).weight is model.get_submodule(b).weight
    name = os.path.basename(path)
    golden, _ = st.load(os.path.join(golden_dir, name))
    with torch.no_grad():
        logits, loss = model(golden["inputs"].long(), golden["targets"].long())
    err = (logits.float() - golden["logits"]).abs().max().item()
    scale = golden["logits"].abs().max().item()
    ok = err <= 1e-5 * max(scale, 1.0)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: strict load, max |logit diff| {err:.2e}, loss {loss.item():.6f}")
    return ok


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_export.py DIR")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    golden_dir = os.path.join(root, "models", "testdata", "golden")
    files = sorted(f for f in os.listdir(sys.argv[1]) if f.endswith(".safetensors"))
    if not files:
        sys.exit("no .safetensors files in " + sys.argv[1])
    ok = all([check(os.path.join(sys.argv[1], f), golden_dir) for f in files])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
