"""IDX files, the format Fashion-MNIST (and MNIST) ships in, read safely.

IDX: two zero bytes, a type code (0x08: unsigned bytes), the number of
dimensions, then one big-endian int32 per dimension, then the payload.
Files may be gzipped; every inconsistency raises a ``ValueError`` naming the file.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, os.PathLike]


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from None


def read_idx(path: PathLike, ndim: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes with ``ndim`` dimensions -> uint8 array."""
    path = Path(path)
    data = _read_bytes(path)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX file ({len(data)} bytes, "
                         f"the header alone needs {header})")
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] != ndim:
        raise ValueError(f"{path}: bad IDX magic number {data[:4].hex()} "
                         f"(expected 000008{ndim:02x}: unsigned bytes, {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", count=ndim, offset=4))
    expected = int(np.prod(dims))
    payload = len(data) - header
    if payload != expected:
        what = "truncated" if payload < expected else "too long"
        raise ValueError(f"{path}: {what} IDX file: header says {dims} = {expected} "
                         f"bytes of data, the file has {payload}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)
