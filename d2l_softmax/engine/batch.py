"""A batch's numbers, as an epoch adds them up: how many examples, how many correct, the
summed loss, whatever the labels (integers, one-hot rows, a regression's floats) and
whatever the loss returns (per-example values, a Keras loss's mean, a function's sum).
A comparison that would give a silently wrong count raises ``ValueError`` instead.
"""

from __future__ import annotations

import tensorflow as tf


def _shape(t) -> str:
    """A tensor's shape for a message: (256, 10), or "of unknown shape"."""
    return "of unknown shape" if t.shape.rank is None else str(tuple(t.shape))


def one_hot_rows(y_hat: tf.Tensor, y: tf.Tensor) -> bool:
    """Whether ``y`` holds one row per example over the same q >= 2 classes as the scores
    ``y_hat`` (B, q): one-hot labels, as Keras' ``CategoricalCrossentropy`` takes them."""
    return (
        y.shape.rank == 2
        and y_hat.shape.rank == 2
        and y.shape[1] is not None
        and y.shape[1] >= 2
        and y.shape[1] == y_hat.shape[1]
    )


def predicted_and_true(y_hat: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The predicted and the true classes of a batch, (B,) int64 each, to compare.

    y_hat: scores (B, q) (probabilities or logits; the class is the row's argmax) or
    predicted labels (B,) as integers; y: integer labels (B,), or one-hot rows (B, q)
    beside scores. Float labels, float predicted labels and shapes that do not line up
    (ranks, or batch sizes where they are known) raise ``ValueError``: comparing them
    would give a silently wrong count.
    """
    y_hat = tf.convert_to_tensor(y_hat)
    y = tf.convert_to_tensor(y)
    if one_hot_rows(y_hat, y):
        y = tf.argmax(y, axis=1, output_type=tf.int64)
    if not y.dtype.is_integer:
        raise ValueError(f"labels must be integers, got dtype {y.dtype.name}")
    if y.shape.rank is not None and y.shape.rank != 1:
        raise ValueError(
            f"predictions {_shape(y_hat)} and labels {_shape(y)} do not "
            "line up: labels must be a vector (batch,)"
        )
    if y_hat.shape.rank == 2:
        if y_hat.shape[1] == 1:
            raise ValueError(
                f"scores {_shape(y_hat)} have one class: pass scores "
                "(batch, classes) with classes >= 2, or labels (batch,)"
            )
        y_hat = tf.argmax(y_hat, axis=1, output_type=tf.int64)
    elif y_hat.shape.rank == 1:
        if not y_hat.dtype.is_integer:
            raise ValueError(
                "predicted labels (batch,) must be integers, got dtype "
                f"{y_hat.dtype.name}; pass scores as (batch, classes)"
            )
    elif y_hat.shape.rank is None:  # a tf.numpy_function's output, compiled
        raise ValueError(
            "the predictions' shape is unknown in the compiled step: give it one "
            "(tf.ensure_shape(y_hat, (None, classes))) or pass run_eagerly=True"
        )
    else:
        raise ValueError(
            f"predictions {_shape(y_hat)} and labels {_shape(y)} "
            "do not line up: expected scores (batch, classes) or labels (batch,)"
        )
    if not y_hat.shape.is_compatible_with(y.shape):
        raise ValueError(
            f"predictions {_shape(y_hat)} and labels {_shape(y)} "
            "do not line up: one label per prediction"
        )
    return tf.cast(y_hat, tf.int64), tf.cast(y, tf.int64)


def correct_count(y_hat: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """The number of correct predictions as a float32 tensor (usable inside tf.function)."""
    y_hat, y = predicted_and_true(y_hat, y)
    return tf.reduce_sum(tf.cast(y_hat == y, tf.float32))


def examples(y: tf.Tensor) -> tf.Tensor:
    """The number of examples in a batch of labels: (B,), or (B, q) one-hot rows."""
    return tf.cast(tf.size(y) if y.shape.rank == 1 else tf.shape(y)[0], tf.float32)


def count_and_correct(y_hat: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(count, correct predictions) of a batch, as the epoch's means divide them: integer
    labels count their examples; so do one-hot rows (B, q) (float rows that are
    distributions: non-negative, summing to 1), whose class is their largest entry.
    Other float targets are a regression's: they count their entries, as the book's
    ``size(y)``, and accuracy does not apply (NaN)."""
    nan = tf.constant(float("nan"))
    if y.dtype.is_integer:
        return examples(y), correct_count(y_hat, y)
    entries = tf.cast(tf.size(y), tf.float32)
    if not one_hot_rows(y_hat, y):
        return entries, nan
    rows = tf.reduce_all(y >= 0) & tf.reduce_all(
        tf.abs(tf.reduce_sum(tf.cast(y, tf.float32), 1) - 1) < 1e-3
    )
    return (tf.where(rows, examples(y), entries), tf.where(rows, correct_count(y_hat, y), nan))


def summed_loss(loss, l: tf.Tensor, count) -> tf.Tensor:
    """The batch's loss summed over its ``count`` examples, from what ``loss`` returned,
    read as the book reads it: per-example losses (B,) are added up; one number from a
    Keras loss is the batch's mean (unless its ``reduction`` is ``"sum"``), and one
    number from a function is the batch's sum (the book's ``reduce_sum(l)``)."""
    l = tf.cast(l, tf.float32)
    if l.shape.rank != 0:
        return tf.reduce_sum(l)
    averaged = isinstance(loss, tf.keras.losses.Loss) and getattr(loss, "reduction", None) != "sum"
    return l * count if averaged else l
