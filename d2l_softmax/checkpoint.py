"""Saving and loading a trained model: one ``.npz`` file, written atomically.

The file holds ``W`` (d, q) and ``b`` (q,) as float32 and ``meta``, a JSON text with
the format name and the settings the model was trained with.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from .files import write_atomically
from .model import SoftmaxRegression

FORMAT = "d2l_softmax.params/1"


def save_params(path, model: SoftmaxRegression, **settings) -> Path:
    """Save W, b and ``settings`` (learning rate, epochs, seed...) to ``path`` (.npz)."""
    meta = json.dumps({"format": FORMAT, "shape": list(model.W.shape), "settings": settings})
    return write_atomically(path, lambda f: np.savez(
        f, W=model.W.numpy(), b=model.b.numpy(), meta=np.array(meta)))


def load_params(path, *, num_inputs: int | None = None,
                num_outputs: int | None = None) -> tuple[SoftmaxRegression, dict]:
    """Load a model saved by :func:`save_params`; return ``(model, settings)``.

    A missing file raises ``FileNotFoundError``; a damaged file, another format, or
    (when ``num_inputs``/``num_outputs`` are given) another shape a ``ValueError``
    naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with np.load(path, allow_pickle=False) as f:
            W, b, meta = f["W"], f["b"], json.loads(str(f["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable d2l_softmax model file "
                         f"({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a d2l_softmax model file (format {meta!r})")
    if W.ndim != 2 or b.shape != (W.shape[1],) or W.dtype != np.float32 or b.dtype != np.float32:
        raise ValueError(f"{path}: inconsistent parameters W {W.shape} {W.dtype}, "
                         f"b {b.shape} {b.dtype}")
    expected = (num_inputs or W.shape[0], num_outputs or W.shape[1])
    if W.shape != expected:
        raise ValueError(f"{path}: the model has W of shape {W.shape}, expected {expected}")
    model = SoftmaxRegression(*W.shape, seed=0)
    model.W.assign(W)
    model.b.assign(b)
    return model, dict(meta.get("settings") or {})


def load_image(path, size: int = 28) -> tf.Tensor:
    """A PNG/JPEG/GIF/BMP image as a (1, size, size, 1) float32 batch in [0, 1].

    Colour is turned to grey and other sizes are resized. Fashion-MNIST shows light
    clothes on a black background; pictures on a white background should be inverted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        img = tf.io.decode_image(path.read_bytes(), channels=1, expand_animations=False)
    except tf.errors.InvalidArgumentError as err:
        raise ValueError(f"{path}: not an image TensorFlow can read ({err.message})") from None
    img = tf.image.convert_image_dtype(img, tf.float32)
    if img.shape[:2] != (size, size):
        img = tf.image.resize(img, (size, size), antialias=True)
    return img[tf.newaxis]
