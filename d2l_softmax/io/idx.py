"""IDX files, the format Fashion-MNIST (and MNIST) ships in, read safely.

IDX: two zero bytes, a type code (0x08: unsigned bytes), the number of
dimensions, then one big-endian int32 per dimension, then the payload.
Files may be gzipped; every inconsistency raises a ``ValueError`` naming the file.

Memory and time follow what the header declares, never what the file claims
beyond it: a gzipped file is inflated step by step, the header is checked
first, and no more than the declared payload plus one byte (to tell "too
long") is ever read. A header declaring more than ``max_bytes`` (1 GiB, more
than any real IDX data set: Fashion-MNIST's training images are 47 MB) is
refused before anything is read.

A gzipped file of one member (as every Fashion-MNIST file is) is inflated by
:class:`SingleMemberReader`, a megabyte at a time: zlib does the work without holding
Python's lock, so the files can be read in a thread while another one works
(the command line reads them while TensorFlow is imported). Anything else,
a second member or a damaged stream, is read again by :mod:`gzip`, which says
what is wrong.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

PathLike = str | os.PathLike
MAX_IDX_BYTES = 1 << 30
_CHUNK = 1 << 20


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the data)."""
    parts, left = [], n
    while left > 0:
        part = f.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_into(f: BinaryIO, out: np.ndarray) -> int:
    """Fill ``out`` (a contiguous array) from ``f``, a megabyte at a time; return how many
    bytes were read (fewer than ``out.nbytes`` only at the end of the data).

    Only the array and one chunk are ever in memory, however much ``f`` would inflate to.
    """
    view, done = memoryview(out.reshape(-1).view(np.uint8)), 0
    while done < len(view):
        n = f.readinto(view[done : done + _CHUNK])
        if not n:
            break
        done += n
    return done


class NotSingleMember(Exception):
    """The gzip file is not a single, sound member: :mod:`gzip` must read it."""


class SingleMemberReader(io.RawIOBase):
    """The inflated bytes of a gzip file of one member, CRC checked by zlib.

    Each read inflates up to the size asked for (a megabyte, from :func:`read_into`)
    in one call, without Python's lock. Raises :class:`NotSingleMember` for anything
    else: bytes after the member, a truncated or damaged stream.
    """

    def __init__(self, raw: BinaryIO):
        self.raw, self.zlib, self.input = raw, zlib.decompressobj(wbits=16 + zlib.MAX_WBITS), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not len(buffer):  # zlib reads a limit of 0 as "no limit"
            return 0
        try:
            while not self.zlib.eof:
                if not self.input:
                    self.input = self.raw.read(_CHUNK)
                    if not self.input:
                        raise NotSingleMember("the stream ends inside the member")
                data = self.zlib.decompress(self.input, len(buffer))
                self.input = self.zlib.unconsumed_tail
                if data:
                    buffer[: len(data)] = data
                    return len(data)
        except zlib.error as err:
            raise NotSingleMember(str(err)) from None
        if self.zlib.unused_data or self.raw.read(1):
            raise NotSingleMember("bytes after the first member")
        return 0


def _parse(path: Path, f: BinaryIO, ndim: int, max_bytes: int, size_hint) -> np.ndarray:
    header = 4 + 4 * ndim
    head = _read_exactly(f, header)
    if len(head) >= 4 and (head[0] != 0 or head[1] != 0 or head[2] != 0x08 or head[3] != ndim):
        raise ValueError(
            f"{path}: bad IDX magic number {head[:4].hex()} "
            f"(expected 000008{ndim:02x}: unsigned bytes, {ndim} dimensions)"
        )
    if len(head) < header:
        raise ValueError(
            f"{path}: truncated IDX file ({len(head)} bytes, the header alone needs {header})"
        )
    dims = tuple(
        int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big", signed=True) for i in range(ndim)
    )
    if any(d < 0 for d in dims):
        raise ValueError(f"{path}: IDX header gives a negative size {dims}")
    expected = math.prod(dims)
    if expected > max_bytes:
        raise ValueError(
            f"{path}: IDX header says {dims} = {expected:,} bytes of data, more "
            f"than the {max_bytes:,} this reader accepts: not a real data set"
        )
    if size_hint is not None and size_hint - header != expected:  # plain file: known size
        payload, has = size_hint - header, f"{size_hint - header}"
    else:
        out = np.empty(expected, np.uint8)  # pages are only taken as they are filled
        payload = has = read_into(f, out)
        if payload == expected:
            if not f.read(1):  # one byte more would mean "too long"
                return out.reshape(dims)
            payload, has = expected + 1, "more"
    what = "truncated" if payload < expected else "too long"
    raise ValueError(
        f"{path}: {what} IDX file: header says {dims} = {expected} "
        f"bytes of data, the file has {has}"
    )


def read_idx(path: PathLike, ndim: int, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file of unsigned bytes with ``ndim`` dimensions -> uint8 array.

    Raises ``ValueError`` naming the file for anything wrong in it (a corrupt
    gzip stream, magic number, sizes, a payload too short or too long, a declared
    size over ``max_bytes``), and for a path that is not a regular file (a pipe or
    a device would block or never end); ``FileNotFoundError``, ``IsADirectoryError``
    or another ``OSError`` when it cannot be opened.
    """
    path = Path(path)
    if not 1 <= ndim <= 255:
        raise ValueError(f"ndim must be in 1..255, got {ndim}")
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path}: is a folder, not an IDX file")
    if not stat.S_ISREG(mode):  # checked before opening: a pipe would block
        raise ValueError(f"{path}: not a regular file")
    with open(path, "rb") as raw:
        info = os.fstat(raw.fileno())
        if raw.read(2) != b"\x1f\x8b":
            raw.seek(0)
            return _parse(path, raw, ndim, max_bytes, info.st_size)
        raw.seek(0)
        try:
            return _parse(path, SingleMemberReader(raw), ndim, max_bytes, None)
        except NotSingleMember:
            raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse(path, f, ndim, max_bytes, None)
        except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from None
