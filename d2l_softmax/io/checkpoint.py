"""Saving and loading a trained model: one ``.npz`` file, written atomically.

The file holds ``W`` (d, q) and ``b`` (q,) as float32 and ``meta``, a JSON text with
the format name and the settings the model was trained with.

Reading trusts nothing in the file: the zip directory's declared size and number of
entries are checked before the directory is parsed (its names, exactly W, b and meta,
after), the zip entries' sizes and the arrays' shapes and dtypes (from the ``.npy``
headers) before any data is read; no more than the declared data (plus one byte, to
tell "too long") is ever inflated, and NaN or infinite parameters are refused.
TensorFlow is imported only to make the model.
"""

from __future__ import annotations

import json
import lzma
import math
import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import regular_file, write_atomically
from .idx import read_into

if TYPE_CHECKING:
    from ..model import SoftmaxRegression

FORMAT = "d2l_softmax.params/1"
MAX_PARAMS = 1 << 26  # 67 million float32 values (256 MiB); the chapter's has 7,850
MAX_META_CHARS = 1 << 16  # the settings text
MAX_MODEL_FILE_BYTES = 1 << 30
MEMBERS = ("W.npy", "b.npy", "meta.npy")  # what a model file holds, in this order
MAX_ZIP_ENTRIES = 16  # declared entries: a model has 3 (their names are checked after)
MAX_ZIP_DIRECTORY_BYTES = 1 << 16  # a model's zip directory takes about 160 bytes
# what the zip and .npy parsers raise on a damaged or hostile file
_PARSE_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    OverflowError,
    IndexError,
    TypeError,
    SyntaxError,
    tokenize.TokenError,
)


def _count_non_finite(value: np.ndarray, chunk: int = 1 << 20) -> int:
    """How many NaN or infinite values ``value`` holds (checked a chunk at a time)."""
    flat = value.reshape(-1)
    return sum(
        int(np.count_nonzero(~np.isfinite(flat[i : i + chunk]))) for i in range(0, flat.size, chunk)
    )


def _check_finite(path, W: np.ndarray, b: np.ndarray) -> None:
    for name, value in (("W", W), ("b", b)):
        bad = _count_non_finite(value)
        if bad:
            raise ValueError(
                f"{path}: {name} has {bad} non-finite values (NaN or inf): "
                "such a model predicts nothing meaningful"
            )


def save_params(path, model: SoftmaxRegression, **settings) -> Path:
    """Save W, b and ``settings`` (learning rate, epochs, seed...) to ``path`` (.npz).

    NaN or infinite parameters raise ``ValueError`` (nothing is written); so do
    settings that are not JSON values.
    """
    W, b = model.W.numpy(), model.b.numpy()
    _check_finite(path, W, b)
    try:
        meta = json.dumps(
            {"format": FORMAT, "shape": list(W.shape), "settings": settings}, allow_nan=False
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"settings must be JSON numbers, strings, lists...: {err}") from None
    return write_atomically(path, lambda f: _write_npz(f, W=W, b=b, meta=np.array(meta)))


def _write_npz(f, **arrays: np.ndarray) -> None:
    """``np.savez(f, **arrays)``, with the zip file closed even when a write fails.

    (numpy before 2.2 leaves it open on a full disk, and its clean-up later prints a
    traceback of its own.) The result is the same ``.npz``: one ``NAME.npy`` per array.
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _first_sentence(err: Exception) -> str:
    """The gist of a parser's message (numpy's go on to suggest ``allow_pickle``)."""
    text = " ".join(str(err).split())
    return text.split(". ")[0][:200]


def _read_npy(zf: zipfile.ZipFile, name: str, ndim: int, kind: str) -> np.ndarray:
    """One array of the .npz, its header checked before its data is read."""
    info = zf.getinfo(name + ".npy")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version} for {name}")
        if (
            len(shape) != ndim
            or dtype.kind != kind
            or dtype.hasobject
            or (kind == "f" and dtype.itemsize != 4)
            or min(shape, default=0) < 0
        ):
            raise ValueError(f"{name} is {dtype} of shape {shape}")
        count = math.prod(shape)
        limit = 1 if kind == "U" else MAX_PARAMS
        if count > limit or (kind == "U" and dtype.itemsize > 4 * MAX_META_CHARS):
            raise ValueError(
                f"{name} claims {dtype} of shape {shape}: larger than any model this package makes"
            )
        nbytes = count * dtype.itemsize
        data = np.empty(count, dtype)  # filled a megabyte at a time: no more is inflated
        got = read_into(f, data)
        if got != nbytes or f.read(1):
            raise ValueError(
                f"{name} has {got if got < nbytes else 'more'} bytes of data, "
                f"its header says {nbytes}"
            )
    if not dtype.isnative:  # big-endian floats: swapped in place, not copied
        data = data.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return data.reshape(shape, order="F" if fortran else "C")


_END = struct.Struct("<4s4H2LH")  # the end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # where the ZIP64 end record is
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # the ZIP64 end record


def _declared_directory(raw) -> tuple[int, int]:
    """(entries, bytes) that a zip's directory declares, from its end records, read as
    the zip format describes them (the ZIP64 record's numbers where there is one)."""
    raw.seek(0, os.SEEK_END)
    tail_size = min(raw.tell(), _END.size + 0xFFFF)  # the record, then a comment
    raw.seek(-tail_size, os.SEEK_END)
    tail = raw.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        raise zipfile.BadZipFile("File is not a zip file")
    _, _, _, on_disk, total, size, _, _ = _END.unpack_from(tail, at)
    locator = at - _ZIP64_LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        raw.seek(_ZIP64_LOCATOR.unpack_from(tail, locator)[2])
        record = raw.read(_ZIP64_END.size)
        if len(record) == _ZIP64_END.size and record[:4] == b"PK\x06\x06":
            on_disk, total, size = _ZIP64_END.unpack(record)[6:9]
    return max(on_disk, total), size


def _check_zip_directory(raw) -> None:
    """Refuse a zip whose directory declares more entries or bytes than a model's could.

    Checked before ``zipfile.ZipFile`` parses the directory, which it reads whole and
    turns into an object per entry (0.55 GB per million entries, in a 50 MB file).
    """
    entries, size = _declared_directory(raw)
    raw.seek(0)
    if entries > MAX_ZIP_ENTRIES:
        raise ValueError(
            f"its zip directory declares {entries:,} entries; a model has {len(MEMBERS)}"
        )
    if size > MAX_ZIP_DIRECTORY_BYTES:
        raise ValueError(
            f"its zip directory declares {size:,} bytes; a model's takes at "
            f"most {MAX_ZIP_DIRECTORY_BYTES:,}"
        )


def _check_members(zf: zipfile.ZipFile) -> None:
    """Refuse an archive that holds anything but W, b and meta, each once."""
    names = zf.namelist()
    if sorted(names) != sorted(MEMBERS):
        raise ValueError(
            f"it holds {', '.join(names)[:200]}; a model holds {', '.join(MEMBERS)}, each once"
        )


def read_model_arrays(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(W, b, meta)`` from a model file, checked; see :func:`load_params`."""
    path = regular_file(path, "model file")
    with open(path, "rb") as raw:  # a file that cannot be opened raises OSError as it is
        if os.fstat(raw.fileno()).st_size > MAX_MODEL_FILE_BYTES:
            raise ValueError(f"{path}: larger than any model this package makes")
        try:
            _check_zip_directory(raw)  # before ZipFile reads the whole directory
            with zipfile.ZipFile(raw) as zf:
                _check_members(zf)
                W = _read_npy(zf, "W", 2, "f")
                b = _read_npy(zf, "b", 1, "f")
                meta = json.loads(str(_read_npy(zf, "meta", 0, "U")))
        except _PARSE_ERRORS as err:
            raise ValueError(
                f"{path}: not a readable d2l_softmax model file "
                f"({type(err).__name__}: {_first_sentence(err)})"
            ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a d2l_softmax model file (format {meta!r:.200})")
    if b.shape != (W.shape[1],) or 0 in W.shape:
        raise ValueError(
            f"{path}: inconsistent parameters W {W.shape} {W.dtype}, b {b.shape} {b.dtype}"
        )
    _check_finite(path, W, b)
    return W, b, meta


def load_params(
    path, *, num_inputs: int | None = None, num_outputs: int | None = None
) -> tuple[SoftmaxRegression, dict]:
    """Load a model saved by :func:`save_params`; return ``(model, settings)``.

    A missing file raises ``FileNotFoundError``, a folder ``IsADirectoryError``,
    one that cannot be opened ``OSError``; a damaged file, another format, NaN or
    infinite parameters, sizes no model of this package has, or (when
    ``num_inputs``/``num_outputs`` are given) another shape a ``ValueError``
    naming the file.
    """
    W, b, meta = read_model_arrays(path)
    expected = (num_inputs or W.shape[0], num_outputs or W.shape[1])
    if W.shape != expected:
        raise ValueError(f"{path}: the model has W of shape {W.shape}, expected {expected}")
    from ..model import SoftmaxRegression

    model = SoftmaxRegression(*W.shape, seed=0)
    model.W.assign(W)
    model.b.assign(b)
    settings = meta.get("settings")
    return model, dict(settings) if isinstance(settings, dict) else {}
