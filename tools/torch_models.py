"""Independent PyTorch reference implementations of the four tinyscale model
families, written from docs/architectures.md (the spec) and, for gpt2, from
nanoGPT's model.py (karpathy/nanoGPT).

Parameter names are exactly the spec's PyTorch names, so a state_dict of these
modules is what `tinyscale export` writes and what the Go code reads.

Run with the system Python that has torch (Debian python3-torch 1.13):
    /usr/bin/python3 tools/make_goldens.py
This module only defines models; see make_goldens.py and check_export.py.

Knob semantics (docs/architectures.md "Ablation knobs"), identical in the Go
reference (models/inference.go):
- rope off: learned absolute positions added to the token embedding
  (gpt2: transformer.wpe.weight; other families: wpe.weight, (block_size, d)),
  before the initial norm for the non-gpt2 families.
- qk_norm: parameter-free rmsnorm (eps 1.1920929e-07) of q and k over hd,
  after RoPE when RoPE is on. Available in every family.
- norm: gpt2 "layer" = nanoGPT LayerNorm (weight, bias when bias), eps 1e-5;
  gpt2 "rms" = rmsnorm with a learnable weight (no bias), eps 1.1920929e-07.
  Other families: parameter-free; "rms" eps 1.1920929e-07, "layer" eps 1e-5.
- activation: gpt2 MLP activation; gated families: h = u * act(v).
  gelu is the exact (erf) GELU.
- tie_embeddings off: separate output matrix (gpt2: lm_head.weight;
  others: unembed.weight). When tied, the state_dict holds both names.
- gate / xsa: silia-xga only. gate off: qkv is d_in->3d with per-head [q|k|v].
- dropout: gpt2 only; these references are used in eval mode (no dropout).
"""

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

RMS_EPS = 1.1920929e-07  # float32 machine epsilon, torch's default when eps=None
LN_EPS = 1e-5
XSA_EPS = 1e-12
ROPE_BASE = 10000.0


@dataclass
class Config:
    """Mirror of models.Config (JSON keys identical)."""
    family: str
    n_embd: int
    n_head: int
    n_layer: int
    block_size: int
    vocab_size: int
    rope: bool = False
    qk_norm: bool = False
    gate: bool = False
    xsa: bool = False
    activation: str = "gelu"
    tie_embeddings: bool = True
    norm: str = "layer"
    dropout: float = 0.0
    bias: bool = False

    def to_json_dict(self):
        return asdict(self)


def default_config(family, **kw):
    """Reference defaults of a family, as models.DefaultConfig."""
    base = dict(family=family, tie_embeddings=True)
    if family == "gpt2":
        base.update(activation="gelu", norm="layer", bias=True)
    elif family in ("gpt2-rope-swiglu", "silia"):
        base.update(activation="silu", norm="rms", rope=True, qk_norm=True)
    elif family == "silia-xga":
        base.update(activation="silu", norm="rms", rope=True, qk_norm=True, gate=True, xsa=True)
    else:
        raise ValueError(f"unknown family {family}")
    base.update(kw)
    return Config(**base)


def rmsnorm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS)


def free_norm(x, kind):
    """Parameter-free norm of the non-gpt2 families."""
    if kind == "rms":
        return rmsnorm(x)
    return F.layer_norm(x, (x.size(-1),), eps=LN_EPS)


def activation(x, kind):
    if kind == "gelu":
        return F.gelu(x)  # exact erf form
    if kind == "silu":
        return F.silu(x)
    if kind == "relu":
        return F.relu(x)
    raise ValueError(kind)


def rope(x):
    """Rotate-half RoPE on (B, T, H, hd), positions 0..T-1, as the spec writes it."""
    B, T, H, hd = x.shape
    d = hd // 2
    inv_freq = 1.0 / (ROPE_BASE ** (torch.arange(0, d, dtype=torch.float64) * 2.0 / hd))
    freq = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (T, d)
    cos = freq.cos().to(x.dtype)[None, :, None, :]
    sin = freq.sin().to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat((x1 * cos + x2 * sin, -x1 * sin + x2 * cos), dim=-1)


def causal_attention(q, k, v):
    """softmax(q k^T / sqrt(hd) + causal mask) v on (B, H, T, hd)."""
    T, hd = q.size(-2), q.size(-1)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = att.masked_fill(~mask, float("-inf"))
    att = F.softmax(att, dim=-1)
    return att @ v


def rope_qknorm(q, k, cfg):
    """RoPE then QK-norm, on (B, T, H, hd)."""
    if cfg.rope:
        q, k = rope(q), rope(k)
    if cfg.qk_norm:
        q, k = rmsnorm(q), rmsnorm(k)
    return q, k


# ---------------------------------------------------------------- gpt2 (nanoGPT)

class LayerNorm(nn.Module):
    """nanoGPT's LayerNorm with optional bias."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, LN_EPS)


class RMSNormW(nn.Module):
    """rmsnorm with a learnable weight (gpt2 with norm: rms)."""

    def __init__(self, ndim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))

    def forward(self, x):
        return rmsnorm(x) * self.weight


def gpt2_norm(cfg):
    if cfg.norm == "layer":
        return LayerNorm(cfg.n_embd, cfg.bias)
    return RMSNormW(cfg.n_embd)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        B, T, C = x.size()
        H = self.cfg.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, H, C // H)
        k = k.view(B, T, H, C // H)
        v = v.view(B, T, H, C // H)
        q, k = rope_qknorm(q, k, self.cfg)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        y = causal_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(activation(self.c_fc(x), self.cfg.activation)))


class GPT2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = gpt2_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = gpt2_norm(cfg)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        mods = dict(wte=nn.Embedding(cfg.vocab_size, cfg.n_embd))
        if not cfg.rope:
            mods["wpe"] = nn.Embedding(cfg.block_size, cfg.n_embd)
        mods["drop"] = nn.Dropout(cfg.dropout)
        mods["h"] = nn.ModuleList([GPT2Block(cfg) for _ in range(cfg.n_layer)])
        mods["ln_f"] = gpt2_norm(cfg)
        self.transformer = nn.ModuleDict(mods)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        x = self.transformer.wte(idx)
        if not self.cfg.rope:
            assert T <= self.cfg.block_size
            x = x + self.transformer.wpe(torch.arange(T))
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


# ------------------------------------------------- gpt2-rope-swiglu, silia, silia-xga

class MHA(nn.Module):
    """Attention with a fused per-head projection: qkv d_in -> H*parts*hd, the
    output viewed (B, T, H, parts*hd) with per-head [q|k|v(|g)]; out H*hd -> d_out.
    gate adds the sigmoid head gate g; xsa the exclusive step (silia-xga)."""

    def __init__(self, cfg, d_in, d_out, gate=False, xsa=False):
        super().__init__()
        self.cfg, self.gate, self.xsa = cfg, gate, xsa
        self.hd, self.H = cfg.n_embd, cfg.n_head
        self.parts = 4 if gate else 3
        self.qkv = nn.Linear(d_in, self.parts * self.H * self.hd, bias=False)
        self.out = nn.Linear(self.H * self.hd, d_out, bias=False)

    def forward(self, x):
        B, T, _ = x.size()
        H, hd = self.H, self.hd
        parts = self.qkv(x).view(B, T, H, self.parts * hd).split(hd, dim=-1)
        q, k, v = parts[0], parts[1], parts[2]
        q, k = rope_qknorm(q, k, self.cfg)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        y = causal_attention(q, k, v)  # (B, H, T, hd)
        if self.gate:
            y = y * torch.sigmoid(parts[3].transpose(1, 2))
        if self.xsa:
            vn = F.normalize(v, p=2.0, dim=-1, eps=XSA_EPS)
            y = y - (y * vn).sum(dim=-1, keepdim=True) * vn
        y = y.transpose(1, 2).contiguous().view(B, T, H * hd)
        return self.out(y)


class SwiGLU(nn.Module):
    def __init__(self, cfg, d):
        super().__init__()
        self.cfg = cfg
        self.uv = nn.Linear(d, 8 * d, bias=False)
        self.out = nn.Linear(4 * d, d, bias=False)

    def forward(self, y):
        u, v = self.uv(free_norm(y, self.cfg.norm)).chunk(2, dim=-1)
        return self.out(u * activation(v, self.cfg.activation))


class RoPESwiGLUBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd * cfg.n_head
        self.cfg = cfg
        self.attn = MHA(cfg, d, d)
        self.swiglu = SwiGLU(cfg, d)

    def forward(self, x):
        y = x + self.attn(free_norm(x, self.cfg.norm))
        return y + self.swiglu(y)


class SiliaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.cfg = cfg
        self.attn1 = MHA(cfg, C, 2 * C)
        self.attn2 = MHA(cfg, C, C)

    def forward(self, x):
        a = self.attn1(free_norm(x, self.cfg.norm))
        u, v = a.split(self.cfg.n_embd, dim=-1)
        h = u * activation(v, self.cfg.activation)
        return x + self.attn2(h)


class XGABlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.n_embd * cfg.n_head
        self.dh = 4 * d // 3
        self.cfg = cfg
        self.attn1 = MHA(cfg, d, 2 * self.dh, gate=cfg.gate, xsa=cfg.xsa)
        self.attn2 = MHA(cfg, self.dh, d, gate=cfg.gate, xsa=cfg.xsa)

    def forward(self, x):
        a = self.attn1(free_norm(x, self.cfg.norm))
        u, v = a.split(self.dh, dim=-1)
        h = u * activation(v, self.cfg.activation)
        return x + self.attn2(h)


class TiedLM(nn.Module):
    """Shared skeleton of gpt2-rope-swiglu, silia and silia-xga:
    x = norm(embed[idx] (+ wpe[pos])); blocks; norm; unembed (tied by default)."""

    def __init__(self, cfg, block_cls, width):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, width)
        if not cfg.rope:
            self.wpe = nn.Embedding(cfg.block_size, width)
        self.blocks = nn.ModuleList([block_cls(cfg) for _ in range(cfg.n_layer)])
        self.unembed = nn.Linear(width, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            # The tied matrix takes the unembed Linear's (PyTorch default) init.
            self.embed.weight = self.unembed.weight

    def forward(self, idx, targets=None):
        B, T = idx.size()
        x = self.embed(idx)
        if not self.cfg.rope:
            assert T <= self.cfg.block_size
            x = x + self.wpe(torch.arange(T))
        x = free_norm(x, self.cfg.norm)
        for block in self.blocks:
            x = block(x)
        x = free_norm(x, self.cfg.norm)
        logits = self.unembed(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


def build(cfg):
    """Returns the PyTorch module of cfg.family, initialised per the spec."""
    if cfg.family == "gpt2":
        return GPT2(cfg)
    if cfg.family == "gpt2-rope-swiglu":
        return TiedLM(cfg, RoPESwiGLUBlock, cfg.n_embd * cfg.n_head)
    if cfg.family == "silia":
        return TiedLM(cfg, SiliaBlock, cfg.n_embd)
    if cfg.family == "silia-xga":
        return TiedLM(cfg, XGABlock, cfg.n_embd * cfg.n_head)
    raise ValueError(f"unknown family {cfg.family}")
