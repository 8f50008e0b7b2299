"""Saving and loading a trained model: one ``.npz`` file, written atomically; reading
the user's own images.

The file holds ``W`` (d, q) and ``b`` (q,) as float32 and ``meta``, a JSON text with
the format name and the settings the model was trained with.

Reading trusts nothing in the file: the zip directory's declared size and number of
entries are checked before the directory is parsed (its names, exactly W, b and meta,
after), the zip entries' sizes and the arrays' shapes and dtypes (from the ``.npy``
headers) before any data is read; no more than the declared data (plus one byte, to
tell "too long") is ever inflated, and NaN or infinite parameters are refused. Images
are opened lazily with Pillow and their size is checked before they are decoded.
TensorFlow is imported only to make the model or the image tensor.
"""
from __future__ import annotations

import json
import lzma
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import missing, write_atomically
from .idx import read_into

if TYPE_CHECKING:
    import tensorflow as tf
    from PIL import Image

    from ..model import SoftmaxRegression

FORMAT = "d2l_softmax.params/1"
MAX_PARAMS = 1 << 26          # 67 million float32 values (256 MiB); the chapter's has 7,850
MAX_META_CHARS = 1 << 16      # the settings text
MAX_MODEL_FILE_BYTES = 1 << 30
MEMBERS = ("W.npy", "b.npy", "meta.npy")  # what a model file holds, in this order
MAX_ZIP_ENTRIES = 16          # declared entries: a model has 3 (their names are checked after)
MAX_ZIP_DIRECTORY_BYTES = 1 << 16  # a model's zip directory takes about 160 bytes
# an image's width and height: reading takes ~13 bytes per pixel, plus 16 per pixel of
# its longest side (resizing's weights: 1 GB for 1 x 67 million pixels), so both sides
# are limited, not only their product
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
# what the zip and .npy parsers raise on a damaged or hostile file
_PARSE_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                 lzma.LZMAError, NotImplementedError, RuntimeError, struct.error,
                 OverflowError, IndexError, TypeError, SyntaxError, tokenize.TokenError)


def _count_non_finite(value: np.ndarray, chunk: int = 1 << 20) -> int:
    """How many NaN or infinite values ``value`` holds (checked a chunk at a time)."""
    flat = value.reshape(-1)
    return sum(int(np.count_nonzero(~np.isfinite(flat[i:i + chunk])))
               for i in range(0, flat.size, chunk))


def _check_finite(path, W: np.ndarray, b: np.ndarray) -> None:
    for name, value in (("W", W), ("b", b)):
        bad = _count_non_finite(value)
        if bad:
            raise ValueError(f"{path}: {name} has {bad} non-finite values (NaN or inf): "
                             "such a model predicts nothing meaningful")


def save_params(path, model: "SoftmaxRegression", **settings) -> Path:
    """Save W, b and ``settings`` (learning rate, epochs, seed...) to ``path`` (.npz).

    NaN or infinite parameters raise ``ValueError`` (nothing is written); so do
    settings that are not JSON values.
    """
    W, b = model.W.numpy(), model.b.numpy()
    _check_finite(path, W, b)
    try:
        meta = json.dumps({"format": FORMAT, "shape": list(W.shape), "settings": settings},
                          allow_nan=False)
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
        if len(shape) != ndim or dtype.kind != kind or dtype.hasobject \
                or (kind == "f" and dtype.itemsize != 4) or min(shape, default=0) < 0:
            raise ValueError(f"{name} is {dtype} of shape {shape}")
        count = math.prod(shape)
        limit = 1 if kind == "U" else MAX_PARAMS
        if count > limit or (kind == "U" and dtype.itemsize > 4 * MAX_META_CHARS):
            raise ValueError(f"{name} claims {dtype} of shape {shape}: larger than any model "
                             "this package makes")
        nbytes = count * dtype.itemsize
        data = np.empty(count, dtype)  # filled a megabyte at a time: no more is inflated
        got = read_into(f, data)
        if got != nbytes or f.read(1):
            raise ValueError(f"{name} has {got if got < nbytes else 'more'} bytes of data, "
                             f"its header says {nbytes}")
    if not dtype.isnative:  # big-endian floats: swapped in place, not copied
        data = data.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return data.reshape(shape, order="F" if fortran else "C")


_END = struct.Struct("<4s4H2LH")            # the end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")     # where the ZIP64 end record is
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")     # the ZIP64 end record


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
    if locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
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
        raise ValueError(f"its zip directory declares {entries:,} entries; a model has "
                         f"{len(MEMBERS)}")
    if size > MAX_ZIP_DIRECTORY_BYTES:
        raise ValueError(f"its zip directory declares {size:,} bytes; a model's takes at "
                         f"most {MAX_ZIP_DIRECTORY_BYTES:,}")


def _check_members(zf: zipfile.ZipFile) -> None:
    """Refuse an archive that holds anything but W, b and meta, each once."""
    names = zf.namelist()
    if sorted(names) != sorted(MEMBERS):
        raise ValueError(f"it holds {', '.join(names)[:200]}; a model holds "
                         f"{', '.join(MEMBERS)}, each once")


def read_model_arrays(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(W, b, meta)`` from a model file, checked; see :func:`load_params`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a model file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file, not a model file")
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
            raise ValueError(f"{path}: not a readable d2l_softmax model file "
                             f"({type(err).__name__}: {_first_sentence(err)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a d2l_softmax model file (format {meta!r:.200})")
    if b.shape != (W.shape[1],) or 0 in W.shape:
        raise ValueError(f"{path}: inconsistent parameters W {W.shape} {W.dtype}, "
                         f"b {b.shape} {b.dtype}")
    _check_finite(path, W, b)
    return W, b, meta


def load_params(path, *, num_inputs: int | None = None,
                num_outputs: int | None = None) -> tuple["SoftmaxRegression", dict]:
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


# ---------------------------------------------------------------- images

class _TooLarge(Exception):
    """An image wider or taller than ``MAX_IMAGE_SIDE``; the message is its size."""


def _grey(img) -> tuple["Image.Image", float]:
    """A Pillow image as a grey float ('F') image and the factor that scales it to [0, 1]:
    colour made grey, 16-bit kept at full precision, transparency laid on black
    (Fashion-MNIST's background).

    Works at the image's own size with few copies: at most 9 bytes per pixel besides
    the decoded image (itself at most 4), the most for palette images with transparency.
    """
    from PIL import Image, ImageChops
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        return img.convert("I").convert("F"), 1 / 65535
    if img.mode == "F":
        values = np.asarray(img, np.float32).copy()
        np.nan_to_num(values, copy=False)
        np.clip(values, 0.0, 1.0, out=values)
        return Image.fromarray(values, "F"), 1.0
    if "A" in img.getbands() or "transparency" in img.info:
        if img.mode not in ("LA", "RGBA"):
            img = img.convert("RGBA")
        # on black: grey * alpha / 255, the colour of each pixel scaled by its opacity
        grey = ImageChops.multiply(img.convert("L"), img.getchannel("A"))
    else:
        grey = img.convert("L")
    return grey.convert("F"), 1 / 255


def read_image(path, size: int = 28) -> np.ndarray:
    """An image file as a (size, size) float32 array in [0, 1]; see :func:`load_image`."""
    from PIL import Image, ImageOps
    path = Path(path)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1024:
        raise ValueError(f"size must be an integer in 1..1024, got {size!r}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: {missing(path, 'image file')}")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file, not an image file")
    with open(path, "rb") as f:  # a file that cannot be opened raises OSError as it is
        try:
            with warnings.catch_warnings():  # a damaged file gives an image or an error
                warnings.simplefilter("ignore")
                img = Image.open(f, formats=IMAGE_FORMATS)
                img.draft("L", (size, size))  # JPEG: decode at a fraction of the size
                width, height = img.size
                if max(width, height) > MAX_IMAGE_SIDE:  # so at most MAX_IMAGE_PIXELS
                    raise _TooLarge(f"{width:,} x {height:,} pixels")
                if img.getexif().get(0x0112, 1) != 1:  # the EXIF orientation: turn it
                    img = ImageOps.exif_transpose(img)  # (a copy; unturned, none is made)
                grey, scale = _grey(img)
                del img  # the decoded image is not needed any more
                small = grey.resize((size, size), Image.Resampling.BILINEAR)  # antialiased
                return np.clip(np.asarray(small, np.float32) * np.float32(scale), 0.0, 1.0)
        except (_TooLarge, Image.DecompressionBombError) as err:  # Pillow's: over 179 Mpixels
            size_text = err if isinstance(err, _TooLarge) else \
                f"more than {MAX_IMAGE_PIXELS:,} pixels"
            raise ValueError(f"{path}: the image is too large to read ({size_text}; the limit "
                             f"is {MAX_IMAGE_SIDE} x {MAX_IMAGE_SIDE} pixels); shrink it first") \
                from None
        except Exception as err:  # noqa: BLE001 (any decoder failure on hostile input)
            raise ValueError(f"{path}: not an image this can read (PNG, JPEG, GIF, BMP, "
                             f"WebP, TIFF, PPM): {type(err).__name__}: {err}") from None


def load_image(path, size: int = 28) -> "tf.Tensor":
    """A PNG/JPEG/GIF/BMP/WebP/TIFF/PPM image as a (1, size, size, 1) float32 batch in [0, 1].

    Colour is turned to grey (transparent parts to black), 16-bit images are scaled,
    the first frame of an animation is taken, the EXIF orientation is applied and
    other sizes are resized with antialiasing. Images wider or taller than 8192 pixels
    are refused before decoding. Fashion-MNIST shows light clothes on a black background;
    pictures on a white background should be inverted.
    """
    import tensorflow as tf
    return tf.constant(read_image(path, size)[None, :, :, None])
