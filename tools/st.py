"""Minimal safetensors reader/writer (F32, I32, I64) for the tools scripts,
so they need only torch (the `safetensors` pip package is not required).
Layout as the reference implementation: 8-byte little-endian header length,
compact JSON header with "__metadata__" first, space padding to 8 bytes, data
ordered by descending dtype (I64, F32, I32) then name."""

import json
import struct

import torch

_DT = {"F32": (torch.float32, 4), "I32": (torch.int32, 4), "I64": (torch.int64, 8)}
_REV = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}
# Descending data order of the reference writer (its Dtype enum order).
_RANK = {"I32": 1, "F32": 2, "I64": 3}


def save(path, tensors, metadata=None):
    """tensors: dict name -> torch tensor (float32/int32/int64)."""
    items = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in _REV:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        items.append((name, t))
    items.sort(key=lambda it: (-_RANK[_REV[it[1].dtype]], it[0]))
    parts = []
    if metadata:
        parts.append(json.dumps("__metadata__") + ":" + json.dumps(dict(sorted(metadata.items())), separators=(",", ":")))
    blobs, off = [], 0
    for name, t in items:
        b = t.numpy().tobytes()  # little-endian on this platform
        e = {"dtype": _REV[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        parts.append(json.dumps(name) + ":" + json.dumps(e, separators=(",", ":")))
        blobs.append(b)
        off += len(b)
    hdr = ("{" + ",".join(parts) + "}").encode()
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> torch tensor, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n])
    data = buf[8 + n:]
    meta = hdr.pop("__metadata__", {}) or {}
    out = {}
    for name, e in hdr.items():
        dt, _ = _DT[e["dtype"]]
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dt) if b > a else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta
