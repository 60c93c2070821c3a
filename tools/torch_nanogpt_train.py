"""PyTorch twin of nanoGPT's CPU character-level recipe, on tinyscale's tokens.

Trains nanoGPT's gpt2 model (tools/torch_models.py, written from nanoGPT's
model.py and docs/architectures.md) with nanoGPT's train.py recipe on the
token stream that `tinyscale run` trains on, dumped by tools/dumptokens in
nanoGPT's format (train.bin / val.bin, little-endian uint16, + meta.json).

What follows nanoGPT's train.py (config/train_shakespeare_char.py + the
README's CPU flags), everything read from the tinyscale run's config:
  - torch.manual_seed(seed) before building the model (init N(0, 0.02),
    c_proj N(0, 0.02/sqrt(2L)), biases 0, lm_head tied to wte);
  - AdamW with two groups: weight decay on every parameter with dim >= 2
    (wte = lm_head, wpe, all Linear weights), none on 1-D (LayerNorm
    weights/biases, Linear biases); betas, eps, lr from the config;
  - get_lr: warm-up lr*(it+1)/(warmup+1), cosine to min_lr at lr_decay_iters
    (= the run's steps), min_lr after;
  - each step: a batch of random windows (torch.randint(len - T)),
    forward, backward, clip_grad_norm_(grad_clip), optimizer.step();
  - estimate_loss: mean over eval.batches random batches of each split,
    model in eval mode, at step 0 and every eval.every steps.
Differences from nanoGPT's loop, chosen to line up with tinyscale's log:
  - nanoGPT evaluates at iter k before update k; here "step k" is after k
    updates, which is the same point. It trains max_iters+1 updates (0..2000);
    here exactly `steps`.
  - the per-step train loss is logged at step it+1 (the loss of the batch
    the it-th update is computed from), as tinyscale's steps table does;
  - at the end, `final_val` is the mean loss over eval.final_batches batches
    of validation windows at the evenly spaced positions tinyscale's runner
    uses (runner/batch.go evenStarts), so both numbers are on identical windows.

Usage (system Python with Debian's torch 1.13):
  go run ./tools/dumptokens -f examples/nanogpt-char.yaml -out /tmp/nanogpt/tokens
  /usr/bin/python3 tools/torch_nanogpt_train.py train --tokens /tmp/nanogpt/tokens \\
      --seed 1337 --out /tmp/nanogpt/torch-seed1337.csv
  /usr/bin/python3 tools/torch_nanogpt_train.py compare --db /tmp/nanogpt/results.db \\
      --csv /tmp/nanogpt/torch-seed1337.csv [--csv more.csv ...]
  /usr/bin/python3 tools/torch_nanogpt_train.py overlay --db /tmp/nanogpt/results.db \
      --csv /tmp/nanogpt/torch-seed1337.csv --out /tmp/nanogpt/overlay.db
  go run ./cmd/tinyscale report --db /tmp/nanogpt/overlay.db --out /tmp/nanogpt/overlay-report

The CSV has columns kind,step,loss,lr,grad_norm with kind one of
step (per-step training loss), train, val (estimate_loss) and final_val.
"""

import argparse
import csv
import json
import math
import os
import sqlite3
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def get_lr(it, lr, min_lr, warmup, decay_iters):
    """nanoGPT's get_lr (current train.py), for the 0-based iteration it."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return min_lr + coeff * (lr - min_lr)


def even_starts(src_len, T, n):
    """runner/batch.go evenStarts: n window starts spread evenly over src."""
    last = src_len - T - 1
    if n <= 1:
        return [0] * n
    return [i * last // (n - 1) for i in range(n)]


def windows(data, starts, T):
    x = torch.stack([torch.from_numpy(data[i:i + T].astype(np.int64)) for i in starts])
    y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + T].astype(np.int64)) for i in starts])
    return x, y


def configure_optimizer(model, wd, lr, betas, eps):
    """nanoGPT's GPT.configure_optimizers: decay iff dim >= 2."""
    params = {pn: p for pn, p in model.named_parameters() if p.requires_grad}
    decay = [p for p in params.values() if p.dim() >= 2]
    nodecay = [p for p in params.values() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": wd},
              {"params": nodecay, "weight_decay": 0.0}]
    n_decay = sum(p.numel() for p in decay)
    n_nodecay = sum(p.numel() for p in nodecay)
    print(f"num decayed parameter tensors: {len(decay)}, with {n_decay:,} parameters")
    print(f"num non-decayed parameter tensors: {len(nodecay)}, with {n_nodecay:,} parameters")
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def train(args):
    meta = json.load(open(os.path.join(args.tokens, "meta.json")))
    cfg = meta["config"]
    train_data = np.fromfile(os.path.join(args.tokens, "train.bin"), dtype="<u2")
    val_data = np.fromfile(os.path.join(args.tokens, "val.bin"), dtype="<u2")
    m = cfg["model"]
    mc = torch_models.Config(**{k: m[k] for k in (
        "family", "n_embd", "n_head", "n_layer", "block_size", "vocab_size", "rope", "qk_norm",
        "gate", "xsa", "activation", "tie_embeddings", "norm", "dropout", "bias")})
    if mc.family != "gpt2":
        raise SystemExit(f"this twin trains nanoGPT's gpt2, not {mc.family}")
    opt = cfg["optimizer"]
    if opt["name"] != "adamw" or opt["schedule"] != "cosine":
        raise SystemExit(f"want adamw + cosine, got {opt['name']} + {opt['schedule']}")
    B, T = cfg["batch_size"], cfg["block_size"]
    if cfg.get("grad_accum", 1) != 1:
        raise SystemExit("grad_accum != 1 is not supported")
    steps = args.steps or cfg["budget"]["steps"]
    decay_iters = cfg["budget"]["steps"]
    ev = cfg["eval"]

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = torch_models.build(mc)
    n_params = sum(p.numel() for p in model.parameters())
    n_wpe = model.transformer.wpe.weight.numel() if not mc.rope else 0
    print(f"vocab {mc.vocab_size}, train {len(train_data):,} / val {len(val_data):,} tokens")
    print(f"number of parameters: {n_params:,} ({(n_params - n_wpe) / 1e6:.2f}M without wpe, as nanoGPT reports)")
    optimizer = configure_optimizer(model, opt["weight_decay"], opt["lr"], tuple(opt["betas"]), opt["eps"])
    gen = torch.Generator().manual_seed(args.seed)       # training batches
    egen = torch.Generator().manual_seed(args.seed + 1)  # eval batches

    def get_batch(split, g):
        data = train_data if split == "train" else val_data
        ix = torch.randint(len(data) - T, (B,), generator=g)
        return windows(data, ix.tolist(), T)

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ("train", "val"):
            losses = [model(*get_batch(split, egen))[1].item() for _ in range(ev["batches"])]
            out[split] = sum(losses) / len(losses)
        model.train()
        return out

    rows = []
    t0 = time.time()
    losses = estimate_loss()
    rows += [("train", 0, losses["train"], "", ""), ("val", 0, losses["val"], "", "")]
    print(f"step 0: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
    model.train()
    for it in range(steps):
        lr = get_lr(it, opt["lr"], opt["min_lr"], opt["warmup"], decay_iters)
        for g in optimizer.param_groups:
            g["lr"] = lr
        x, y = get_batch("train", gen)
        _, loss = model(x, y)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), opt["grad_clip"]) \
            if opt["grad_clip"] > 0 else torch.tensor(float("nan"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step = it + 1
        rows.append(("step", step, loss.item(), lr, gn.item()))
        if step % 100 == 0 or step == 1:
            print(f"iter {step}: loss {loss.item():.4f}, lr {lr:.2e}, {time.time() - t0:.1f}s")
        if ev["every"] > 0 and step % ev["every"] == 0:
            losses = estimate_loss()
            rows += [("train", step, losses["train"], lr, ""), ("val", step, losses["val"], lr, "")]
            print(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
    # final_val on tinyscale's fixed windows
    model.eval()
    starts = even_starts(len(val_data), T, ev["final_batches"] * B)
    with torch.no_grad():
        fl = [model(*windows(val_data, starts[b * B:(b + 1) * B], T))[1].item()
              for b in range(ev["final_batches"])]
    final = sum(fl) / len(fl)
    rows.append(("final_val", steps, final, "", ""))
    print(f"final_val {final:.4f} ({ev['final_batches']} batches), {time.time() - t0:.1f}s")
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "step", "loss", "lr", "grad_norm"])
        w.writerows(rows)
    print(f"wrote {args.out}")


def load_csv(path):
    """Returns {(kind, step): loss} and {step: (lr, grad_norm)} of the per-step rows."""
    out, lrs = {}, {}
    with open(path) as f:
        for r in csv.DictReader(f):
            out[(r["kind"], int(r["step"]))] = float(r["loss"])
            if r["kind"] == "step":
                lrs[int(r["step"])] = (float(r["lr"]), float(r["grad_norm"]))
    return out, lrs


def smooth(series, step, n=20):
    """Mean of the per-step training loss over the n steps ending at step."""
    vals = [series[s] for s in range(step - n + 1, step + 1) if s in series]
    return sum(vals) / len(vals) if vals else float("nan")


def compare(args):
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    runs = [r[0] for r in db.execute("SELECT name FROM runs WHERE status = 'done' ORDER BY name")]
    if args.run:
        runs = [r for r in runs if r in args.run]
    cols = []  # (label, per-step loss, eval losses, per-step (lr, grad_norm))
    for r in runs:
        rows = list(db.execute("SELECT step, loss, lr, grad_norm FROM steps WHERE run = ?", (r,)))
        st = {s: l for s, l, _, _ in rows}
        lg = {s: (lr, g) for s, _, lr, g in rows}
        ev = {(sp, s): l for s, sp, l in db.execute("SELECT step, split, loss FROM evals WHERE run = ?", (r,))}
        cols.append((f"tinyscale {r.split('/')[-1]}", st, ev, lg))
    for path in args.csv:
        d, lg = load_csv(path)
        st = {s: l for (k, s), l in d.items() if k == "step"}
        ev = {(k, s): l for (k, s), l in d.items() if k != "step"}
        cols.append((f"torch {os.path.basename(path)}", st, ev, lg))
    points = [int(p) for p in args.points.split(",")]
    print("| step | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for p in points:
        cells = []
        for _, st, ev, _ in cols:
            tr = ev.get(("train", p))
            va = ev.get(("val", p))
            if p == 0:  # tinyscale has no step-0 eval: its first step's loss
                s1 = st.get(1)
                cells.append(f"{tr:.3f} / {va:.3f}" if tr is not None else f"{s1:.3f} (step 1 loss)")
            elif tr is None:
                cells.append("—")
            else:
                cells.append(f"{tr:.3f} / {va:.3f}")
        print(f"| {p} | " + " | ".join(cells) + " |")
    cells = []
    for _, st, ev, _ in cols:
        fv = [l for (k, s), l in ev.items() if k == "final_val"]
        cells.append(f"{fv[0]:.4f}" if fv else "—")
    print("| final_val | " + " | ".join(cells) + " |")
    print()
    print("per-step training loss (step 1: that step; others: mean of the 20 steps ending there):")
    print("| step | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for p in [1] + [q for q in points if q > 0]:
        print(f"| {p} | " + " | ".join(f"{smooth(st, p, 1 if p == 1 else 20):.3f}" for _, st, _, _ in cols) + " |")
    print()
    print("gradient norm before clipping (mean over steps in the range):")
    ranges = [(1, 10), (11, 100), (101, 500), (501, 1000), (1001, 2000)]
    print("| steps | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for a, b in ranges:
        cells = []
        for _, _, _, lg in cols:
            g = [lg[s][1] for s in range(a, b + 1) if s in lg]
            cells.append(f"{sum(g) / len(g):.3f}" if g else "—")
        print(f"| {a}-{b} | " + " | ".join(cells) + " |")
    if len(cols) > 1:
        ref = cols[0][3]
        for label, _, _, lg in cols[1:]:
            common = [s for s in ref if s in lg]
            d = max((abs(ref[s][0] - lg[s][0]) for s in common), default=float("nan"))
            print(f"max |lr difference| per step, {cols[0][0]} vs {label}: {d:.3g} over {len(common)} steps")


def overlay(args):
    """Copies a tinyscale results DB and adds each twin CSV as a finished run
    <experiment>/torch-nanogpt/seed=S of family "torch-nanogpt" (same
    config_json as the tinyscale run but name and seed), so that
    `tinyscale report` draws both curves in one figure. Only for the copy:
    never point --out at a database you keep."""
    if os.path.exists(args.out):
        raise SystemExit(f"{args.out} exists; give a new path")
    src = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    dst = sqlite3.connect(args.out)
    src.backup(dst)
    src.close()
    base = dst.execute("SELECT * FROM runs WHERE status = 'done' ORDER BY name LIMIT 1").fetchone()
    cols = [d[0] for d in dst.execute("SELECT * FROM runs LIMIT 0").description]
    base = dict(zip(cols, base))
    cfg = json.loads(base["config_json"])
    tok_step = cfg["batch_size"] * cfg["block_size"] * cfg.get("grad_accum", 1)
    fpt = 3 * base["flops_per_token"]
    now = "2000-01-01T00:00:00.000000Z"
    for path in args.csv:
        d, lg = load_csv(path)
        seed = int(os.path.basename(path).rsplit("seed", 1)[-1].split(".")[0])
        name = f"{cfg['experiment']}/torch-nanogpt/seed={seed}"
        c = dict(cfg, name=name, seed=seed)
        row = dict(base, name=name, family="torch-nanogpt", config_json=json.dumps(c),
                   config_hash="torch-twin", host="", go_version="", tinyscale_version="",
                   blas="pytorch", lease_owner=None, lease_expires_at=None)
        dst.execute(f"INSERT INTO runs ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [row[k] for k in cols])
        for (kind, step), loss in sorted(d.items()):
            if kind == "step":
                lr, g = lg[step]
                dst.execute("INSERT INTO steps (run, step, tokens, flops, loss, lr, grad_norm, wall_time)"
                            " VALUES (?,?,?,?,?,?,?,?)",
                            (name, step, step * tok_step, float(step * tok_step * fpt), loss, lr, g, now))
            else:
                dst.execute("INSERT INTO evals (run, step, split, loss, bpb, created_at) VALUES (?,?,?,?,?,?)",
                            (name, step, kind, loss, None, now))
    dst.commit()
    dst.close()
    print(f"wrote {args.out}: {len(args.csv)} twin runs added")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the twin on dumped tokens")
    t.add_argument("--tokens", required=True, help="directory with train.bin, val.bin, meta.json")
    t.add_argument("--seed", type=int, default=1337, help="torch seed (nanoGPT: 1337)")
    t.add_argument("--steps", type=int, default=0, help="stop early (the schedule keeps the config's steps)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--out", required=True, help="CSV to write")
    c = sub.add_parser("compare", help="table of tinyscale runs against twin CSVs")
    c.add_argument("--db", required=True)
    c.add_argument("--run", action="append", default=[], help="run name (default: every done run)")
    c.add_argument("--csv", action="append", default=[])
    c.add_argument("--points", default="0,250,500,1000,1500,2000")
    o = sub.add_parser("overlay", help="copy a tinyscale DB and add the twin CSVs as runs (for report figures)")
    o.add_argument("--db", required=True)
    o.add_argument("--csv", action="append", default=[], help="twin CSV named ...seedN.csv")
    o.add_argument("--out", required=True, help="new database file")
    args = ap.parse_args()
    {"train": train, "compare": compare, "overlay": overlay}[args.cmd](args)


if __name__ == "__main__":
    main()
