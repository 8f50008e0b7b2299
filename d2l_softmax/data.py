"""Fashion-MNIST as tf.data: the in-memory arrays, batched and reshuffled every pass.

:mod:`d2l_softmax.io.fashion_mnist` finds and reads the files; its names are
available here too, as the book has them in one place. How the engine trains on
the arrays themselves is in :mod:`d2l_softmax.engine.source`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .checks import check_positive_int, check_seed
from .engine.source import ArraySource, batch_bounds, register, scale_pixels
from .io.fashion_mnist import (  # noqa: F401 (the loader's names, here as in the book)
    DEBIAN_DIR,
    ENV_VAR,
    HOW_TO_GET_THE_DATA,
    IMAGE_SHAPE,
    NUM_CLASSES,
    SPLITS,
    TEXT_LABELS,
    DataNotFoundError,
    find_fashion_mnist,
    get_fashion_mnist_labels,
    read_fashion_mnist,
)
from .io.idx import PathLike

MAX_RESIZE = 1024  # a (256, 1024, 1024, 1) float32 batch is already 1 GiB


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    resize: int | None = None,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A tf.data pipeline over in-memory images (uint8 ``(N, 28, 28)``) and labels.

    With ``shuffle`` the examples (not the batches) are reshuffled on every pass.
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
    starts, ends = zip(*batch_bounds(n, batch_size))
    starts, ends = tf.constant(starts, tf.int64), tf.constant(ends, tf.int64)

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow: no tracing cost
    def this_pass_order(_):  # drawn once per pass, from the generator the engine uses too
        return source.order()  # TensorFlow ops only: nothing of Python's is kept alive

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow: no tracing cost
    def batches(order):
        @tf.autograph.experimental.do_not_convert
        def batch(i):
            idx = order[starts[i] : ends[i]]
            X = scale_pixels(tf.gather(images_t, idx))
            if resize:
                X = tf.image.resize_with_pad(X, resize, resize)
            return X, tf.gather(labels_t, idx)

        return tf.data.Dataset.range(len(ends)).map(batch)

    ds = tf.data.Dataset.range(1).map(this_pass_order).flat_map(batches)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(ends)))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    if not resize:  # the engine trains on the 28x28 arrays themselves
        register(ds, source)
    return ds


def load_data_fashion_mnist(
    batch_size: int,
    resize: int | None = None,
    *,
    data_dir: PathLike | None = None,
    seed: int | None = None,
    download: bool = True,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Load Fashion-MNIST into memory and return ``(train_iter, test_iter)``.

    Each yields ``(X, y)``: X float32 in [0, 1] of shape ``(B, 28, 28, 1)``
    (``(B, resize, resize, 1)`` with ``resize``, padded as ``tf.image.resize_with_pad``),
    y int32 of shape ``(B,)``.

    Unlike the book, which batches before shuffling (so every epoch sees the same
    batches in a new order), the training set is reshuffled example by example on
    every pass; ``seed`` makes that sequence reproducible. The test set keeps its order.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    if resize is not None and (
        isinstance(resize, bool)
        or not isinstance(resize, (int, np.integer))
        or not 1 <= resize <= MAX_RESIZE
    ):
        raise ValueError(f"resize must be None or an integer in 1..{MAX_RESIZE}, got {resize!r}")
    folder = find_fashion_mnist(data_dir, download=download)
    train = read_fashion_mnist(folder, "train")
    test = read_fashion_mnist(folder, "test")
    return (
        make_dataset(*train, batch_size, shuffle=True, resize=resize, seed=seed),
        make_dataset(*test, batch_size, shuffle=False, resize=resize),
    )
