"""The loops that repeat a step over one pass of the data, one per kind of data.

A step returns a vector of sums, ``(loss, correct, count, bad labels)`` when training
(see :func:`~d2l_softmax.engine.guards.check_labels_first`) and ``(correct, count)``
when evaluating; the loops add them up on the device. :mod:`d2l_softmax.engine.epoch`
picks the loop and compiles it.

- A dataset made by :func:`~d2l_softmax.data.load_data_fashion_mnist` (found with
  :func:`~d2l_softmax.engine.source.array_source`): one loop over the uint8 images held in
  memory, gathering each batch by index (:func:`fused_loop`).
- Any other ``tf.data.Dataset``: a loop over it, compiled whole (:func:`dataset_loop`).
- Any other iterable of ``(X, y)``: one compiled step per batch (:func:`step_loop`).
- ``run_eagerly=True``: the step as plain Python, batch by batch (:func:`eager_loop`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf

from .source import ArraySource, batch_bounds, scale_pixels

SUMS = {True: 4, False: 2}  # how many numbers a step returns, training or not


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int | None, batch: int, value: float):
        where = f"epoch {epoch}, batch {batch}" if epoch else f"batch {batch}"
        super().__init__(
            f"training diverged: the loss became {value} at {where}. Try a smaller "
            "learning rate, and check that the inputs are finite and the labels in range."
        )
        self.epoch, self.batch = epoch, batch


def _first_bad(out: tf.Tensor, i, bad: tf.Tensor, training: bool) -> tf.Tensor:
    """``bad`` (the index of the first batch with a non-finite loss, or -1) after batch
    ``i`` gave ``out = (loss, ...)``; it stays -1 when evaluating."""
    if not training:
        return bad
    return tf.where((bad < 0) & ~tf.math.is_finite(out[0]), i, bad)


# ---------------------------------------------------------------- the loops


def fused_loop(step, batch_size: int, *, training: bool, static_shapes: bool = False) -> Callable:
    """``loop(images, labels, order) -> (sums, bad)`` over in-memory uint8 images.

    The examples are taken in ``order`` (N,) and cut as :func:`batch_bounds` says
    (full batches, then the short one, as iterating the dataset gives them); each
    batch is gathered when its turn comes (no reshuffled copy of the whole set) and
    scaled to [0, 1] here, inside the compiled code. ``bad`` is the index of the
    first batch whose loss was not finite (the loop stops there), else -1.

    Every batch, the short one too, goes through one copy of the step, traced and
    optimized once, its batch size unknown to the graph. XLA must know every shape
    (``static_shapes``): there the short batch gets a copy of the step of its own.
    """
    size = SUMS[training]

    def loop(images, labels, order):
        def run(idx):  # one step on the examples order[idx]
            return tf.stack(step(scale_pixels(tf.gather(images, idx)), tf.gather(labels, idx)))

        def run_batches(batch, count, sums, bad):  # batches 0..count-1, in a loop
            def body(k, sums, bad):
                out = run(batch(k))
                return k + 1, sums + out, _first_bad(out, k, bad, training)

            _, sums, bad = tf.while_loop(
                lambda k, sums, bad: (k < count) & (bad < 0), body, (tf.constant(0), sums, bad)
            )
            return sums, bad

        n = int(order.shape[0])
        bounds = batch_bounds(n, batch_size)
        sums, bad = tf.zeros(size), tf.constant(-1)
        if not bounds:  # no examples
            return sums, bad
        if not static_shapes:  # one loop over every batch, its size unknown to the graph
            starts, ends = (tf.constant(column) for column in zip(*bounds))
            return run_batches(lambda k: order[starts[k] : ends[k]], len(bounds), sums, bad)

        # shapes known (XLA): the full batches in a loop, then the short one on its own
        full_count, tail = divmod(n, batch_size)
        if full_count:
            full = tf.reshape(order[: n - tail], (-1, batch_size))  # a row a batch
            sums, bad = run_batches(lambda k: full[k], full_count, sums, bad)
        if tail:

            def run_short(sums, bad):
                out = run(order[n - tail :])
                return sums + out, _first_bad(out, tf.constant(full_count), bad, training)

            sums, bad = tf.cond(bad < 0, lambda: run_short(sums, bad), lambda: (sums, bad))
        return sums, bad

    return loop


def dataset_loop(step, *, training: bool) -> Callable:
    """``loop(dataset) -> (sums, bad)``: the same over any tf.data dataset."""
    size = SUMS[training]

    def loop(dataset):
        sums, bad, i = tf.zeros(size), tf.constant(-1), tf.constant(0)
        for X, y in dataset:
            # no ``break`` (AutoGraph would make it a deprecated take_while, with a
            # warning): after a non-finite loss the rest of the pass is read, not trained
            if bad < 0:
                out = tf.stack(step(X, y))
                sums += out
                bad = _first_bad(out, i, bad, training)
            i += 1
        return sums, bad

    return loop


def accumulating(step, *, training: bool) -> Callable:
    """``step(X, y, sums, bad, i) -> (sums, bad)``: one step that adds its numbers to
    the running sums, so that a Python loop of compiled steps never waits for them.
    After a bad batch the steps do nothing: nothing more is trained."""

    def accumulate(X, y, sums, bad, i):
        def run():
            out = tf.stack(step(X, y))
            return sums + out, _first_bad(out, i, bad, training)

        if not training:
            return run()
        return tf.cond(bad < 0, run, lambda: (sums, bad))

    return accumulate


def step_loop(step, batches: Iterable, *, training: bool):
    """``(sums, bad)`` over any iterable, one compiled :func:`accumulating` step a batch."""
    sums, bad = tf.zeros(SUMS[training]), tf.constant(-1)
    for i, (X, y) in enumerate(batches):
        sums, bad = step(X, y, sums, bad, tf.constant(i))
    return sums, bad


def eager_loop(step, batches: Iterable, *, training: bool, epoch: int | None) -> np.ndarray:
    """Sums over batches, step by step in Python; stops at once on a non-finite loss."""
    sums = np.zeros(SUMS[training])
    for i, (X, y) in enumerate(batches):
        out = np.array([float(v) for v in step(X, y)])
        if training and not math.isfinite(out[0]):
            raise TrainingDivergedError(epoch, i + 1, out[0])
        sums += out
    return sums


def source_batches(source: ArraySource, order: tf.Tensor):
    """The batches that iterating the dataset gives, in ``order``, as Python iterates
    them (and as the fused loop takes them)."""
    for start, end in batch_bounds(int(order.shape[0]), source.batch_size):
        idx = order[start:end]
        yield (scale_pixels(tf.gather(source.images, idx)), tf.gather(source.labels, idx))
