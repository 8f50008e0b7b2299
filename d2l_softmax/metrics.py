"""Classification accuracy and a running sum, as the chapter defines them."""

from __future__ import annotations

import tensorflow as tf

from .engine.batch import predicted_and_true


def accuracy(y_hat: tf.Tensor, y: tf.Tensor) -> float:
    """The number of correct predictions (a count, as in the book, not a fraction).

    y_hat: scores (B, q), whose class is the row's argmax, or predicted labels (B,);
    y: labels (B,) (or one-hot rows (B, q)). Shapes that do not line up raise ValueError.
    """
    y_hat, y = predicted_and_true(y_hat, y)  # argmax of the scores, shapes checked
    cmp = y_hat == y
    return float(tf.reduce_sum(tf.cast(cmp, tf.float32)))


class Accumulator:
    """Sums over ``n`` variables: ``add(a, b, ...)``, then ``acc[i]``."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *args) -> None:
        if len(args) != len(self.data):
            raise ValueError(f"this Accumulator sums {len(self.data)} values, got {len(args)}")
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]
