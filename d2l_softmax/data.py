"""Fashion-MNIST: find the four IDX files, read them safely, serve them as tf.data.

The files are looked for, in order, in

1. the ``data_dir`` argument,
2. the ``FASHION_MNIST_DIR`` environment variable,
3. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``),
4. the Keras cache (``$KERAS_HOME`` or ``~/.keras``, then ``datasets/fashion-mnist``),

and only then downloaded with ``tf.keras.datasets.fashion_mnist.load_data()``.
"""
from __future__ import annotations

import functools
import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

PathLike = Union[str, os.PathLike]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"
TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")
NUM_CLASSES = len(TEXT_LABELS)
IMAGE_SHAPE = (28, 28)

# split -> (images file, labels file, number of examples)
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}

HOW_TO_GET_THE_DATA = """\
Get Fashion-MNIST in one of three ways:
  1. on Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist
     (puts the files in /usr/share/datasets/fashion-mnist);
  2. put the four IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
     t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in a folder and pass
     data_dir=... (--data-dir on the command line) or set FASHION_MNIST_DIR;
  3. with an internet connection, let tf.keras.datasets.fashion_mnist.load_data()
     download it into the Keras cache."""


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST was not found anywhere and could not be downloaded."""


# ---------------------------------------------------------------- IDX files

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
    """Read one IDX file of unsigned bytes with ``ndim`` dimensions.

    IDX: two zero bytes, the type code 0x08 (ubyte), the number of dimensions,
    then one big-endian int32 per dimension, then the payload.
    Every inconsistency raises a ``ValueError`` that names the file.
    """
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


def _find_file(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _has_all_files(folder: Path) -> bool:
    names = [name for images, labels, _ in SPLITS.values() for name in (images, labels)]
    return all(_find_file(folder, name) is not None for name in names)


@functools.lru_cache(maxsize=4)
def _read_split_cached(images_path: Path, labels_path: Path, count: int,
                       _stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
                         f"Fashion-MNIST's are 28x28")
    if len(images) != count:
        raise ValueError(f"{images_path}: {len(images)} images, expected {count}")
    if len(labels) != count:
        raise ValueError(f"{labels_path}: {len(labels)} labels, expected {count}")
    if labels.max(initial=0) >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise ValueError(f"{labels_path}: label {labels[bad]} at index {bad} is out of "
                         f"range 0..{NUM_CLASSES - 1}")
    return images, labels


def read_fashion_mnist(folder: PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one split from ``folder``.

    Returns ``(images, labels)``: uint8 ``(N, 28, 28)`` and uint8 ``(N,)``,
    with N = 60,000 for ``"train"`` and 10,000 for ``"test"``.
    """
    images_name, labels_name, count = SPLITS[split]
    folder = Path(folder)
    paths = [_find_file(folder, images_name), _find_file(folder, labels_name)]
    if None in paths:
        raise DataNotFoundError(f"{folder} has no {images_name}[.gz] / {labels_name}[.gz]")
    stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    return _read_split_cached(paths[0], paths[1], count, stamp)


# ---------------------------------------------------------------- finding the data

def _keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def find_fashion_mnist(data_dir: Optional[PathLike] = None, *, download: bool = True) -> Path:
    """The folder that holds the four Fashion-MNIST files (see the module docstring).

    An explicit ``data_dir`` or ``FASHION_MNIST_DIR`` must hold the files: it is an
    error, not a fallback, when it does not.
    """
    for source, folder in (("data_dir", data_dir), (ENV_VAR, os.environ.get(ENV_VAR))):
        if folder:
            if _has_all_files(Path(folder)):
                return Path(folder)
            raise DataNotFoundError(
                f"{source}={folder} does not hold the four Fashion-MNIST files.\n"
                + HOW_TO_GET_THE_DATA)
    looked = [DEBIAN_DIR, _keras_cache_dir()]
    for folder in looked:
        if _has_all_files(folder):
            return folder
    problem = "downloading was turned off"
    if download:
        try:
            tf.keras.datasets.fashion_mnist.load_data()
        except Exception as err:  # any network or file error: explained below
            problem = f"downloading failed ({type(err).__name__}: {err})"
        else:
            if _has_all_files(_keras_cache_dir()):
                return _keras_cache_dir()
            problem = "the download did not leave the files in the Keras cache"
    raise DataNotFoundError(
        "Fashion-MNIST was not found: looked in " + ", ".join(map(str, looked))
        + f" ({ENV_VAR} is not set), and {problem}.\n" + HOW_TO_GET_THE_DATA)


# ---------------------------------------------------------------- tf.data

@dataclass(frozen=True)
class ArraySource:
    """Where a dataset made by :func:`load_data_fashion_mnist` comes from.

    The training loop uses it to run whole epochs over the in-memory uint8 images
    instead of pulling float32 batches one by one through tf.data.
    """
    images: tf.Tensor          # uint8 (N, 28, 28, 1)
    labels: tf.Tensor          # int32 (N,)
    batch_size: int
    shuffle: Optional[tf.random.Generator]  # draws each pass's permutation; None: keep order

    def order(self) -> tf.Tensor:
        """The order of the examples in the next pass (N,): a fresh permutation of
        0..N-1 when shuffling, else 0..N-1."""
        n = int(self.labels.shape[0])
        if self.shuffle is None:
            return tf.range(n)
        seed = self.shuffle.make_seeds(1)[:, 0]
        return tf.random.experimental.stateless_shuffle(tf.range(n), seed)


def _permutations(n: int, seed: Optional[int]) -> tf.data.Dataset:
    """A one-element dataset holding a permutation of 0..n-1, new on every pass."""
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return draws.map(tf.autograph.experimental.do_not_convert(
        lambda s: tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([s, tf.constant(0, tf.int64)]))))


def batches_from_arrays(images: tf.Tensor, labels: tf.Tensor, batch_size: int,
                        order: tf.Tensor, resize: Optional[int] = None) -> tf.data.Dataset:
    """Batches ``(X, y)`` taken in ``order``: X float32 in [0, 1], y int32."""
    n = int(images.shape[0])
    num_batches = -(-n // batch_size)

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow: no tracing cost
    def batch(i):
        idx = order[i * batch_size: tf.minimum((i + 1) * batch_size, n)]
        X = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
        if resize:
            X = tf.image.resize_with_pad(X, resize, resize)
        return X, tf.gather(labels, idx)

    return tf.data.Dataset.range(num_batches).map(batch)


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *,
                 shuffle: bool, resize: Optional[int] = None,
                 seed: Optional[int] = None) -> tf.data.Dataset:
    """A tf.data pipeline over in-memory images (uint8 ``(N, 28, 28)``) and labels.

    With ``shuffle`` the examples (not the batches) are reshuffled on every pass.
    """
    n = len(labels)
    images_t = tf.constant(images.reshape(n, *images.shape[1:3], 1), tf.uint8)
    labels_t = tf.constant(labels, tf.int32)
    if shuffle:
        if seed is None:  # follows tf.random.set_seed when that was called
            seed = int(tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64))
        ds = _permutations(n, seed).flat_map(tf.autograph.experimental.do_not_convert(
            lambda order: batches_from_arrays(images_t, labels_t, batch_size, order, resize)))
        generator = tf.random.Generator.from_seed(seed)
    else:
        generator = None
        ds = batches_from_arrays(images_t, labels_t, batch_size, tf.range(n), resize)
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if not resize:  # the fast path trains on the 28x28 arrays themselves
        ds._d2l_source = ArraySource(images_t, labels_t, batch_size, generator)
    return ds


def array_source(data_iter) -> Optional[ArraySource]:
    """The in-memory arrays behind a dataset from :func:`load_data_fashion_mnist`, if any."""
    return getattr(data_iter, "_d2l_source", None)


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def load_data_fashion_mnist(batch_size: int, resize: Optional[int] = None, *,
                            data_dir: Optional[PathLike] = None, seed: Optional[int] = None,
                            download: bool = True) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Load Fashion-MNIST into memory and return ``(train_iter, test_iter)``.

    Each yields ``(X, y)``: X float32 in [0, 1] of shape ``(B, 28, 28, 1)``
    (``(B, resize, resize, 1)`` with ``resize``, padded as ``tf.image.resize_with_pad``),
    y int32 of shape ``(B,)``.

    Unlike the book, which batches before shuffling (so every epoch sees the same
    batches in a new order), the training set is reshuffled example by example on
    every pass; ``seed`` makes that sequence reproducible. The test set keeps its order.
    """
    batch_size = _check_batch_size(batch_size)
    if resize is not None and (isinstance(resize, bool) or not isinstance(resize, (int, np.integer))
                               or resize < 1):
        raise ValueError(f"resize must be None or a positive integer, got {resize!r}")
    folder = find_fashion_mnist(data_dir, download=download)
    train = read_fashion_mnist(folder, "train")
    test = read_fashion_mnist(folder, "test")
    return (make_dataset(*train, batch_size, shuffle=True, resize=resize, seed=seed),
            make_dataset(*test, batch_size, shuffle=False, resize=resize))


def get_fashion_mnist_labels(labels: Sequence[int]) -> list[str]:
    """Text labels of numeric labels, e.g. ``[0, 9] -> ['t-shirt', 'ankle boot']``."""
    return [TEXT_LABELS[int(i)] for i in np.asarray(labels).reshape(-1)]
