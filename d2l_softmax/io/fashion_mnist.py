"""Fashion-MNIST on disk: find the four IDX files, read them checked, name the classes.

NumPy only: TensorFlow is imported just to download the files when they are found
nowhere. :mod:`d2l_softmax.data` serves the arrays as tf.data datasets.

The files are looked for, in order, in

1. the ``data_dir`` argument,
2. the ``FASHION_MNIST_DIR`` environment variable,
3. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``),
4. the Keras cache (``$KERAS_HOME`` or ``~/.keras``, then ``datasets/fashion-mnist``),

and only then downloaded with ``tf.keras.datasets.fashion_mnist.load_data()``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .idx import PathLike, read_idx

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"
TEXT_LABELS = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
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


# ---------------------------------------------------------------- the files


def _find_file(folder: Path, name: str) -> Path | None:
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
def _read_split_cached(
    images_path: Path, labels_path: Path, count: int, _stamp: tuple
) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"Fashion-MNIST's are 28x28"
        )
    if len(images) != count:
        raise ValueError(f"{images_path}: {len(images)} images, expected {count}")
    if len(labels) != count:
        raise ValueError(f"{labels_path}: {len(labels)} labels, expected {count}")
    if labels.max(initial=0) >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise ValueError(
            f"{labels_path}: label {labels[bad]} at index {bad} is out of "
            f"range 0..{NUM_CLASSES - 1}"
        )
    for array in (images, labels):  # shared by every caller: one caller's edit is no other's
        array.flags.writeable = False
    return images, labels


def read_fashion_mnist(folder: PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one split from ``folder``.

    Returns ``(images, labels)``: uint8 ``(N, 28, 28)`` and uint8 ``(N,)``,
    with N = 60,000 for ``"train"`` and 10,000 for ``"test"``. The arrays are read
    once and shared by every later call (and the loader), so they are read-only:
    ``images.copy()`` gives an array of your own to change.
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


def find_fashion_mnist(
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    splits: Sequence[str] = ("train", "test"),
) -> Path:
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
                raise DataNotFoundError(
                    f"{source}={folder} is a file, not a folder.\n" + HOW_TO_GET_THE_DATA
                )
            if _has_all_files(folder, splits):
                return folder
            raise DataNotFoundError(
                f"{source}={folder} does not hold the {what} Fashion-MNIST files.\n"
                + HOW_TO_GET_THE_DATA
            )
    looked = [DEBIAN_DIR, _keras_cache_dir()]
    for folder in looked:
        if _has_all_files(folder, splits):
            return folder
    problem = "downloading was turned off"
    if download:
        try:
            import tensorflow as tf

            tf.keras.datasets.fashion_mnist.load_data()
        except Exception as err:  # any network or file error: explained below
            problem = f"downloading failed ({type(err).__name__}: {err})"
        else:
            if _has_all_files(_keras_cache_dir(), splits):
                return _keras_cache_dir()
            problem = "the download did not leave the files in the Keras cache"
    raise DataNotFoundError(
        "Fashion-MNIST was not found: looked in "
        + ", ".join(map(str, looked))
        + f" ({ENV_VAR} is not set), and {problem}.\n"
        + HOW_TO_GET_THE_DATA
    )


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
        raise ValueError(
            f"label {bad[0]!r} is not a class: labels are integers in 0..{NUM_CLASSES - 1}"
        )
    return [TEXT_LABELS[v] for v in values]
