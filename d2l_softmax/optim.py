"""Minibatch stochastic gradient descent.

The update for softmax regression, from the chapter:
W <- W - lr * X^T (A - Y) / B,  b <- b - lr * sum(A - Y) / B.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from .checks import check_lr, check_positive_int
from .model import (
    SoftmaxRegression,
    cross_entropy,
    softmax,
    softmax_regression_grad,
    trains_on_logits,
)


def sgd(params: Sequence[tf.Variable], grads: Sequence[tf.Tensor], lr: float, batch_size) -> None:
    """Minibatch SGD: param <- param - lr * grad / batch_size, for each pair.

    ``grads`` are gradients of the loss summed over the minibatch, one per parameter.
    """
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise ValueError(f"{len(params)} parameters but {len(grads)} gradients")
    if isinstance(batch_size, (int, float, np.number)) and not batch_size > 0:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    for param, grad in zip(params, grads):
        param.assign_sub(tf.cast(lr, param.dtype) * grad / tf.cast(batch_size, param.dtype))


class Updater:
    """The book's updater: ``updater(batch_size, grads)`` does one SGD step on ``params``.

    ``lr`` may be changed between epochs (a schedule): it lives in a variable, so
    compiled training steps see the new value. 0 is allowed (no update), as in the book.
    """

    def __init__(self, params: Sequence[tf.Variable], lr: float):
        self.params = list(params)
        self._lr = tf.Variable(
            check_lr(lr, zero_ok=True), trainable=False, dtype=tf.float32, name="lr"
        )

    @property
    def lr(self) -> float:
        """The rate as its float32 variable holds it, in the shortest decimal that is that
        float32: 0.1 (not 0.10000000149011612, the float32's exact value)."""
        return float(str(self._lr.numpy()))

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr.assign(check_lr(value, zero_ok=True))

    def __call__(self, batch_size, grads: Sequence[tf.Tensor]) -> None:
        sgd(self.params, grads, self._lr, batch_size)


class AnalyticUpdater(Updater):
    """SGD for :class:`SoftmaxRegression` with the hand-derived gradient, no tape.

    ``train_step(X, y)`` computes the logits, the loss and dJ/dW = X^T (A - Y)
    itself (see :func:`softmax_regression_grad`), updates W and b, and returns the
    logits and per-example losses from before the update. ``train_epoch_ch3`` uses
    it in place of ``tf.GradientTape``; the loss it reports is cross-entropy.
    """

    def __init__(self, model: SoftmaxRegression, lr: float):
        if not isinstance(model, SoftmaxRegression):
            raise TypeError(
                f"AnalyticUpdater needs a SoftmaxRegression, got {type(model).__name__}"
            )
        changed = [
            name
            for name in ("__call__", "logits")
            if getattr(type(model), name) is not getattr(SoftmaxRegression, name)
            or name in vars(model)
        ]
        if changed:
            raise TypeError(
                f"AnalyticUpdater computes the gradient of softmax(X W + b) itself; "
                f"{type(model).__name__} changes {' and '.join(changed)}: train it "
                "with Updater (the tape) instead"
            )
        super().__init__(model.params, lr)
        self.model = model

    def check_trains(self, net, loss) -> None:
        """Refuse to train anything but its own model with ``cross_entropy``, the loss
        whose gradient it computes (another loss or net would be trained as that one)."""
        if not (net is self.model and trains_on_logits(net, loss) and "logits" not in vars(net)):
            raise TypeError(
                f"{type(self).__name__} computes the gradient of its own "
                "SoftmaxRegression's cross-entropy: train that model with "
                "d2l.cross_entropy, or use d2l.Updater (the tape) for this net "
                "and loss"
            )

    def train_step(self, X: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """X (B, 28, 28, 1), y (B,) -> logits (B, q) and losses (B,) before the step."""
        X = self.model.flatten(X)
        Z = tf.matmul(X, self.model.W) + self.model.b
        losses = cross_entropy.from_logits(Z, y)
        grads = softmax_regression_grad(X, softmax(Z), y)
        sgd(self.params, grads, self._lr, tf.shape(X)[0])
        return Z, losses


def cosine_schedule(lr: float, num_epochs: int, final_lr: float = 1e-4):
    """``schedule(epoch)`` for epochs 1..num_epochs: lr decayed along half a cosine
    down to ``final_lr`` (0 <= final_lr <= lr)."""
    lr = check_lr(lr)
    final_lr = check_lr(final_lr, "final_lr", zero_ok=True)
    if final_lr > lr:
        raise ValueError(f"final_lr {final_lr} is above lr {lr}")
    num_epochs = check_positive_int(num_epochs, "num_epochs")

    def schedule(epoch: int) -> float:
        return final_lr + (lr - final_lr) * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / num_epochs))

    return schedule
