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
import itertools
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from .idx import PathLike, read_idx

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"
TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")
NUM_CLASSES = len(TEXT_LABELS)
IMAGE_SHAPE = (28, 28)
MAX_RESIZE = 1024  # a (256, 1024, 1024, 1) float32 batch is already 1 GiB

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


# ---------------------------------------------------------------- the files

def _find_file(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _has_all_files(folder: Path, splits: Sequence[str] = ("train", "test")) -> bool:
    names = [name for split in splits for name in SPLITS[split][:2]]
    return all(_find_file(folder, name) is not None for name in names)


def _check_splits(splits: Sequence[str]) -> tuple[str, ...]:
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    if not splits or not all(isinstance(s, str) and s in SPLITS for s in splits):
        raise ValueError(f"splits must be some of {sorted(SPLITS)}, got {splits!r}")
    return splits


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
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
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


def find_fashion_mnist(data_dir: Optional[PathLike] = None, *, download: bool = True,
                       splits: Sequence[str] = ("train", "test")) -> Path:
    """The folder that holds the four Fashion-MNIST files (see the module docstring).

    With ``splits=("test",)`` a folder with only the two test files will do.
    An explicit ``data_dir`` or ``FASHION_MNIST_DIR`` must hold the files: it is an
    error, not a fallback, when it does not.
    """
    splits = _check_splits(splits)
    what = "four" if len(splits) == 2 else f"two {splits[0]}"
    for source, folder in (("data_dir", data_dir), (ENV_VAR, os.environ.get(ENV_VAR))):
        if folder:
            folder = Path(folder)
            if folder.exists() and not folder.is_dir():
                raise DataNotFoundError(f"{source}={folder} is a file, not a folder.\n"
                                        + HOW_TO_GET_THE_DATA)
            if _has_all_files(folder, splits):
                return folder
            raise DataNotFoundError(
                f"{source}={folder} does not hold the {what} Fashion-MNIST files.\n"
                + HOW_TO_GET_THE_DATA)
    looked = [DEBIAN_DIR, _keras_cache_dir()]
    for folder in looked:
        if _has_all_files(folder, splits):
            return folder
    problem = "downloading was turned off"
    if download:
        try:
            tf.keras.datasets.fashion_mnist.load_data()
        except Exception as err:  # any network or file error: explained below
            problem = f"downloading failed ({type(err).__name__}: {err})"
        else:
            if _has_all_files(_keras_cache_dir(), splits):
                return _keras_cache_dir()
            problem = "the download did not leave the files in the Keras cache"
    raise DataNotFoundError(
        "Fashion-MNIST was not found: looked in " + ", ".join(map(str, looked))
        + f" ({ENV_VAR} is not set), and {problem}.\n" + HOW_TO_GET_THE_DATA)


# ---------------------------------------------------------------- tf.data

def batch_bounds(n: int, batch_size: int, *, short_first: bool) -> list[tuple[int, int]]:
    """``[(start, end), ...]``: how a pass over ``n`` examples is cut into batches.

    With ``short_first`` the batch of ``n % batch_size`` left over comes first and
    every pass ends on a full-size step. The training set is cut this way, both
    when you iterate it and when :func:`~d2l_softmax.train.train_ch3` trains on it:
    a short last step right before the test accuracy is taken adds noise (with the
    chapter's recipe, 60,000 = 234 x 256 + 96, the final test accuracy over 16 seeds
    was 0.8285 +- 0.0074 with the 96 last and 0.8331 +- 0.0018 with them first).
    """
    full, tail = divmod(n, batch_size)
    sizes = [batch_size] * full
    if tail:
        sizes = [tail] + sizes if short_first else sizes + [tail]
    ends = list(itertools.accumulate(sizes))
    return [(end - size, end) for size, end in zip(sizes, ends)]


@dataclass(frozen=True, eq=False)
class ArraySource:
    """The in-memory arrays behind a dataset made by :func:`load_data_fashion_mnist`.

    The dataset and the compiled engine (:mod:`d2l_softmax.engine`) draw each pass's
    order from the same ``shuffle`` generator, so iterating the dataset by hand and
    training on it with ``train_ch3`` see the same batches under a seed.
    """
    images: tf.Tensor          # uint8 (N, 28, 28, 1)
    labels: tf.Tensor          # int32 (N,)
    batch_size: int
    shuffle: Optional[tf.random.Generator]  # draws each pass's permutation; None: keep order

    @property
    def short_first(self) -> bool:
        """Training sets put their short batch first (see :func:`batch_bounds`)."""
        return self.shuffle is not None

    def order(self) -> tf.Tensor:
        """The order of the examples in the next pass (N,): a fresh permutation of
        0..N-1 when shuffling, else 0..N-1."""
        n = int(self.labels.shape[0])
        if self.shuffle is None:
            return tf.range(n)
        seed = self.shuffle.make_seeds(1)[:, 0]
        return tf.random.experimental.stateless_shuffle(tf.range(n), seed)


# Which datasets were made from which arrays. A dataset the user transforms
# (``.map``, ``.take``, ``.shuffle``...) is a new object, not in here: it trains
# through the general tf.data path, as any other dataset would.
_SOURCES: "weakref.WeakKeyDictionary[tf.data.Dataset, ArraySource]" = weakref.WeakKeyDictionary()


def array_source(data_iter) -> Optional[ArraySource]:
    """The :class:`ArraySource` of a dataset returned by :func:`load_data_fashion_mnist`
    (that very object, untransformed), else None."""
    try:
        return _SOURCES.get(data_iter)
    except TypeError:  # unhashable or not weakly referable: not one of ours
        return None


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *,
                 shuffle: bool, resize: Optional[int] = None,
                 seed: Optional[int] = None) -> tf.data.Dataset:
    """A tf.data pipeline over in-memory images (uint8 ``(N, 28, 28)``) and labels.

    With ``shuffle`` the examples (not the batches) are reshuffled on every pass,
    and the short batch comes first (see :func:`batch_bounds`).
    """
    n = len(labels)
    images_t = tf.constant(images.reshape(n, *images.shape[1:3], 1), tf.uint8)
    labels_t = tf.constant(labels, tf.int32)
    generator = None
    if shuffle:
        if seed is None:  # follows tf.random.set_seed when that was called
            seed = int(tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64))
        generator = tf.random.Generator.from_seed(seed)
    source = ArraySource(images_t, labels_t, batch_size, generator)
    starts, ends = zip(*batch_bounds(n, batch_size, short_first=source.short_first))
    starts, ends = tf.constant(starts, tf.int64), tf.constant(ends, tf.int64)

    def this_pass_order(_):  # drawn once per pass, from the generator the engine uses too
        order = tf.py_function(source.order, [], tf.int32)
        order.set_shape([n])
        return order

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow: no tracing cost
    def batches(order):
        def batch(i):
            idx = order[starts[i]:ends[i]]
            X = tf.cast(tf.gather(images_t, idx), tf.float32) / 255.0
            if resize:
                X = tf.image.resize_with_pad(X, resize, resize)
            return X, tf.gather(labels_t, idx)
        return tf.data.Dataset.range(len(ends)).map(batch)

    ds = tf.data.Dataset.range(1).map(this_pass_order).flat_map(batches)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(ends)))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if not resize:  # the engine trains on the 28x28 arrays themselves
        _SOURCES[ds] = source
    return ds


def check_positive_int(value, what: str) -> int:
    """``value`` as an int, if it is an integer >= 1 (a bool is not); else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


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
    batch_size = check_positive_int(batch_size, "batch_size")
    if resize is not None and (isinstance(resize, bool) or not isinstance(resize, (int, np.integer))
                               or not 1 <= resize <= MAX_RESIZE):
        raise ValueError(f"resize must be None or an integer in 1..{MAX_RESIZE}, got {resize!r}")
    folder = find_fashion_mnist(data_dir, download=download)
    train = read_fashion_mnist(folder, "train")
    test = read_fashion_mnist(folder, "test")
    return (make_dataset(*train, batch_size, shuffle=True, resize=resize, seed=seed),
            make_dataset(*test, batch_size, shuffle=False, resize=resize))


def get_fashion_mnist_labels(labels: Sequence[int]) -> list[str]:
    """Text labels of numeric labels, e.g. ``[0, 9] -> ['t-shirt', 'ankle boot']``.

    Labels must be integers in 0..9 (any integer dtype, or a tensor of one);
    anything else raises ``ValueError``.
    """
    values = np.asarray(labels).reshape(-1)
    if values.dtype.kind not in "iu" and values.size:  # not bool, float, str or object
        raise ValueError(f"labels must be integers, got dtype {values.dtype}")
    values = values.tolist()  # Python ints: compared exactly, whatever their width
    bad = [v for v in values if not 0 <= v < NUM_CLASSES]
    if bad:
        raise ValueError(f"label {bad[0]!r} is not a class: labels are integers in "
                         f"0..{NUM_CLASSES - 1}")
    return [TEXT_LABELS[v] for v in values]
