"""Weight files without pickle: ``.npz`` and ``.safetensors``.

The safetensors format (an 8-byte little-endian header length, a JSON header mapping each name to dtype, shape and
byte offsets, then the raw little-endian data) is simple enough to read and write with numpy alone, so weights
exported from PyTorch with ``safetensors.torch.save_file`` load without any extra dependency.
"""
from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

__all__ = ["save", "load"]

_ST_TO_NP = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
             "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_NP_TO_ST = {np.dtype(v).newbyteorder("=") if v[0] == "<" else np.dtype(v): k for k, v in _ST_TO_NP.items()}


def _format(path: str | os.PathLike, format: str | None) -> str:
    fmt = format or os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt not in ("npz", "safetensors"):
        raise ValueError(f"unknown weight file format {fmt!r} for {str(path)!r}: use a .npz or .safetensors path "
                         "(or format='npz' / 'safetensors')")
    return fmt


def save(state_dict: Mapping[str, Any], path: str | os.PathLike, format: str | None = None) -> None:
    """Write ``state_dict`` (name -> array-like) to ``path`` (.npz or .safetensors)."""
    arrays = OrderedDict((k, np.asarray(v, order="C")) for k, v in state_dict.items())  # keeps 0-d shapes
    if _format(path, format) == "npz":
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return
    header: dict[str, Any] = {}
    offset = 0
    for k, a in arrays.items():
        st = _NP_TO_ST.get(a.dtype.newbyteorder("=") if a.dtype.byteorder in "<>" else a.dtype)
        if st is None:
            raise TypeError(f"safetensors cannot store {k!r} of dtype {a.dtype}")
        header[k] = {"dtype": st, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in arrays.values():
            f.write(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())


def load(path: str | os.PathLike, format: str | None = None) -> "OrderedDict[str, np.ndarray]":
    """Read a state_dict written by ``save``, by numpy, or by PyTorch's safetensors export. bfloat16 tensors are
    widened to float32 (numpy has no bfloat16)."""
    if _format(path, format) == "npz":
        with np.load(path, allow_pickle=False) as data:
            return OrderedDict((k, data[k]) for k in data.files)
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{str(path)!r} is not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError:
        raise ValueError(f"{str(path)!r} is not a safetensors file (bad header)") from None
    header.pop("__metadata__", None)
    body = memoryview(raw)[8 + n:]
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        start, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            bits = np.frombuffer(body[start:end], dtype="<u2").astype(np.uint32) << 16
            out[k] = bits.view(np.float32).reshape(shape)
        elif info["dtype"] in _ST_TO_NP:
            out[k] = np.frombuffer(body[start:end], dtype=_ST_TO_NP[info["dtype"]]).reshape(shape).astype(
                np.dtype(_ST_TO_NP[info["dtype"]]).newbyteorder("="))
        else:
            raise TypeError(f"{str(path)!r}: tensor {k!r} has dtype {info['dtype']}, which numpy cannot hold")
    return out
