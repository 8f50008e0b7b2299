"""Classification accuracy and a running sum."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def correct_count(y_hat: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """The number of correct predictions as a float32 tensor (usable inside tf.function).

    y_hat: scores (B, q) (probabilities or logits) or predicted labels (B,); y: labels (B,).
    """
    y_hat = tf.convert_to_tensor(y_hat)
    y = tf.convert_to_tensor(y)
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = tf.argmax(y_hat, axis=1)
    if y_hat.shape.rank is not None and y.shape.rank is not None and \
            y_hat.shape.rank != y.shape.rank:
        raise ValueError(f"predictions {tuple(y_hat.shape)} and labels {tuple(y.shape)} "
                         "do not line up")
    cmp = tf.cast(y_hat, y.dtype) == y
    return tf.reduce_sum(tf.cast(cmp, tf.float32))


def accuracy(y_hat: tf.Tensor, y: tf.Tensor) -> float:
    """The number of correct predictions (a count, as in the book, not a fraction)."""
    return float(correct_count(y_hat, y))


class Accumulator:
    """Sums over ``n`` variables: ``add(a, b, ...)``, then ``acc[i]``."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *args) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    return tf.math.confusion_matrix(tf.reshape(y_true, [-1]), tf.reshape(y_pred, [-1]),
                                    num_classes=num_classes).numpy()
