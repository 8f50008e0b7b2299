"""The in-memory arrays behind a dataset of :func:`~d2l_softmax.data.load_data_fashion_mnist`.

The loader registers each dataset it makes with the arrays it was made from, so that the
engine can train on the arrays themselves (:func:`~d2l_softmax.engine.loops.fused_loop`)
and cut them exactly as the dataset does.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import tensorflow as tf


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]``: how a pass over ``n`` examples is cut into batches, as
    ``.batch(batch_size)`` cuts it: full batches, then the ``n % batch_size`` left over."""
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def scale_pixels(images) -> tf.Tensor:
    """uint8 pixels (any shape) as the model sees them: float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0


@dataclass(frozen=True, eq=False)
class ArraySource:
    """The arrays of one dataset. The dataset and the engine draw each pass's order from
    the same ``shuffle`` generator, so iterating the dataset by hand and training on it
    with ``train_ch3`` see the same batches under a seed."""

    images: tf.Tensor  # uint8 (N, 28, 28, 1)
    labels: tf.Tensor  # int32 (N,)
    batch_size: int
    shuffle: tf.random.Generator | None  # draws each pass's permutation; None: keep order

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
_SOURCES: weakref.WeakKeyDictionary[tf.data.Dataset, ArraySource] = weakref.WeakKeyDictionary()


def register(dataset: tf.data.Dataset, source: ArraySource) -> None:
    """Note that ``dataset`` yields the batches of ``source``, untransformed."""
    _SOURCES[dataset] = source


def array_source(data_iter) -> ArraySource | None:
    """The :class:`ArraySource` of a dataset returned by the loader (that very object,
    untransformed), else None."""
    try:
        return _SOURCES.get(data_iter)
    except TypeError:  # unhashable or not weakly referable: not one of ours
        return None
