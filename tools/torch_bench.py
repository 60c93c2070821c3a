#!/usr/bin/python3
"""PyTorch twin of `tinyscale bench`: times full training steps (forward,
backward, grad-norm clip 1.0, AdamW step) of one model shape on random tokens
and prints the same JSON fields.

Run with Debian's python3-torch (1.13), not a pyenv python:

    /usr/bin/python3 tools/torch_bench.py --family gpt2-rope-swiglu --n-embd 64 \
        --n-head 4 --n-layer 2 --vocab 8192 --block 256 --batch 16 --steps 20 --threads 2 --json

The models are compact re-implementations of docs/architectures.md
(gpt2-rope-swiglu, silia, gpt2), written for timing: shapes, FLOPs and the
optimiser match the Go side; weights are PyTorch-default initialised.
"""

import argparse
import json
import math
import os
import resource
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", default="gpt2-rope-swiglu", choices=["gpt2-rope-swiglu", "silia", "gpt2"])
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--block", type=int, default=256)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op and OpenBLAS threads")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-alloc", action="store_true", help="skip the profiled step that measures bytes allocated per step")
    a = p.parse_args(argv)
    if a.steps < 1 or a.warmup < 0 or a.threads < 1:
        p.error("--steps and --threads must be >= 1 and --warmup >= 0")
    return a


ARGS = parse_args(sys.argv[1:])
# Thread counts must be fixed before torch (and the BLAS it loads) starts.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

EPS = torch.finfo(torch.float32).eps


def rmsnorm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)


def rope(x):
    # x: (B, T, H, hd), rotate-half form, base 10000
    T, hd = x.shape[1], x.shape[3]
    d = hd // 2
    inv = 1.0 / (10000 ** (torch.arange(0, d, dtype=torch.float32) * 2 / hd))
    f = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = f.cos()[None, :, None, :], f.sin()[None, :, None, :]
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat((x1 * cos + x2 * sin, -x1 * sin + x2 * cos), dim=-1)


def causal_attention(q, k, v):
    # q, k, v: (B, H, T, hd)
    T, hd = q.shape[2], q.shape[3]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float("-inf")).softmax(-1)
    return att @ v


class RopeMHA(nn.Module):
    """qkv d_in -> 3*H*hd (per head [q|k|v]), RoPE, QK-norm, causal attention, out -> d_out."""

    def __init__(self, d_in, hd, h, d_out):
        super().__init__()
        self.hd, self.h = hd, h
        self.qkv = nn.Linear(d_in, 3 * h * hd, bias=False)
        self.out = nn.Linear(h * hd, d_out, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        qkv = self.qkv(x).view(B, T, self.h, 3 * self.hd)
        q, k, v = qkv.split(self.hd, dim=-1)
        q, k = rmsnorm(rope(q)), rmsnorm(rope(k))
        y = causal_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.out(y.transpose(1, 2).reshape(B, T, self.h * self.hd))


class GPTRopeSwiGLU(nn.Module):
    def __init__(self, a):
        super().__init__()
        d = a.n_embd * a.n_head
        self.unembed = nn.Linear(d, a.vocab, bias=False)
        self.blocks = nn.ModuleList()
        for _ in range(a.n_layer):
            blk = nn.Module()
            blk.attn = RopeMHA(d, a.n_embd, a.n_head, d)
            blk.uv = nn.Linear(d, 8 * d, bias=False)
            blk.out = nn.Linear(4 * d, d, bias=False)
            self.blocks.append(blk)

    def forward(self, idx):
        x = rmsnorm(F.embedding(idx, self.unembed.weight))
        for b in self.blocks:
            y = x + b.attn(rmsnorm(x))
            u, v = b.uv(rmsnorm(y)).chunk(2, dim=-1)
            x = y + b.out(u * F.silu(v))
        return self.unembed(rmsnorm(x))


class Silia(nn.Module):
    def __init__(self, a):
        super().__init__()
        c = a.n_embd
        self.c = c
        self.unembed = nn.Linear(c, a.vocab, bias=False)
        self.blocks = nn.ModuleList()
        for _ in range(a.n_layer):
            blk = nn.Module()
            blk.attn1 = RopeMHA(c, c, a.n_head, 2 * c)
            blk.attn2 = RopeMHA(c, c, a.n_head, c)
            self.blocks.append(blk)

    def forward(self, idx):
        x = rmsnorm(F.embedding(idx, self.unembed.weight))
        for b in self.blocks:
            u, v = b.attn1(rmsnorm(x)).split(self.c, dim=-1)
            x = x + b.attn2(u * F.silu(v))
        return self.unembed(rmsnorm(x))


class GPT2(nn.Module):
    def __init__(self, a):
        super().__init__()
        c, self.h = a.n_embd, a.n_head
        self.wte = nn.Embedding(a.vocab, c)
        self.wpe = nn.Embedding(a.block, c)
        self.blocks = nn.ModuleList()
        for _ in range(a.n_layer):
            blk = nn.Module()
            blk.ln_1, blk.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
            blk.c_attn, blk.attn_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
            blk.c_fc, blk.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
            self.blocks.append(blk)
        self.ln_f = nn.LayerNorm(c)
        # nanoGPT init: N(0, 0.02), c_proj N(0, 0.02/sqrt(2L)), biases 0.
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * a.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            q, k, v = b.c_attn(b.ln_1(x)).split(x.shape[-1], dim=-1)
            q, k, v = (t.view(B, T, self.h, -1).transpose(1, 2) for t in (q, k, v))
            y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, -1)
            x = x + b.attn_proj(y)
            x = x + b.mlp_proj(F.gelu(b.c_fc(b.ln_2(x))))
        return self.ln_f(x) @ self.wte.weight.t()


FAMILIES = {"gpt2-rope-swiglu": GPTRopeSwiGLU, "silia": Silia, "gpt2": GPT2}


def blas_name(threads):
    lib = "unknown BLAS"
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        for cand in ("openblas", "mkl", "blis", "libblas"):
            if cand in maps:
                lib = cand
                break
    except OSError:
        pass
    return "torch %s (%s, %d threads)" % (torch.__version__, lib, threads)


def cpu_capability():
    """ATen's vector kernel class ("CPU capability usage: AVX2" in
    torch.__config__.show(); ATEN_CPU_CAPABILITY lowers it)."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip().lower()
    return "unknown"


def allocated_bytes(step):
    """Approximate bytes the CPU allocator hands out during one step: the
    profiler's per-op net allocations (self memory: allocated minus freed
    inside the op), summed over ops where positive. Temporaries freed inside
    the op that made them are missed, so this is a lower bound."""
    from torch.profiler import ProfilerActivity, profile

    # The profiler's C++ side warns on stderr about blocks allocated before
    # it started; silence fd 2 for the profiled step only.
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    total = 0
    for e in prof.events():
        m = e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        if m > 0:
            total += m
    return total


def main(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = FAMILIES[a.family](a)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.95), eps=1e-10,
    )
    g = torch.Generator().manual_seed(a.seed)
    batches = [torch.randint(0, a.vocab, (a.batch, a.block + 1), generator=g) for _ in range(4)]

    def step(i):
        seq = batches[i % len(batches)]
        logits = model(seq[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), seq[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    loss_first = loss_last = float("nan")
    for i in range(a.warmup):
        l = step(i)
        if i == 0:
            loss_first = l
    durs = []
    t_start = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        t0 = time.perf_counter()
        l = step(i)
        durs.append(time.perf_counter() - t0)
        if i == 0:
            loss_first = l
        loss_last = l
    total = time.perf_counter() - t_start
    alloc = None if a.no_alloc else allocated_bytes(lambda: step(a.warmup + a.steps))

    def pct(q):
        s = sorted(durs)
        pos = q * (len(s) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(s) - 1)
        return (s[lo] * (1 - (pos - lo)) + s[hi] * (pos - lo)) * 1e3

    res = {
        "impl": "pytorch",
        "family": a.family,
        "shape": {"n_embd": a.n_embd, "n_head": a.n_head, "n_layer": a.n_layer, "vocab": a.vocab, "block": a.block, "batch": a.batch},
        "params": sum(p.numel() for p in model.parameters()),
        "steps": a.steps,
        "warmup": a.warmup,
        "tokens_per_s": a.steps * a.batch * a.block / total,
        "step_ms_median": pct(0.5),
        "step_ms_p10": pct(0.1),
        "step_ms_p90": pct(0.9),
        "alloc_bytes_per_step": alloc,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "blas": blas_name(a.threads),
        "cpu_kernels": cpu_capability(),
        "gomaxprocs": a.threads,
        "loss_first": loss_first,
        "loss_last": loss_last,
        "optimizer": "torch.optim.AdamW lr=0.001 betas=(0.9,0.95) eps=1e-10 wd=0.1 (>=2-D), grad clip 1",
    }
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print("%-22s %s" % (k, v))


if __name__ == "__main__":
    main(ARGS)
