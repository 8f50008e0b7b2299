"""The model: softmax, softmax regression and the cross-entropy loss.

Shapes: a batch of B examples with d = 784 inputs and q = 10 classes;
X (B, d), W (d, q), b (q,), logits Z = X W + b (B, q), probabilities A (B, q),
labels y (B,) in 0..q-1.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .checks import check_positive_int, check_seed
from .engine.guards import check_labels, check_lined_up


def _logits(X) -> tf.Tensor:
    """X as a floating-point tensor of rank >= 1 (integers become float32)."""
    X = tf.convert_to_tensor(X)
    if not X.dtype.is_floating:
        if not X.dtype.is_integer:
            raise ValueError(f"softmax needs numbers, got dtype {X.dtype.name}")
        X = tf.cast(X, tf.float32)
    if X.shape.rank == 0:
        raise ValueError("softmax needs at least one axis (a vector of logits), got a scalar")
    return X


def softmax_naive(X: tf.Tensor) -> tf.Tensor:
    """The chapter's softmax, exactly as the formula reads: exp(X) / sum exp(X).

    Over the last axis, as :func:`softmax`. Kept to show why it is not used:
    float32 exp overflows above about 88.7, so ``softmax_naive([[1000., 0.]])`` is
    ``[[nan, 0.]]`` (inf / inf).
    """
    X_exp = tf.exp(_logits(X))
    partition = tf.reduce_sum(X_exp, -1, keepdims=True)
    return X_exp / partition


def softmax(X: tf.Tensor) -> tf.Tensor:
    """Softmax over the last axis, as ``tf.nn.softmax``: logits X (B, q) -> probabilities
    (B, q), each row summing to 1 (a vector (q,) or any (..., q) works the same way).

    a_i = exp(z_i) / sum_j exp(z_j). Subtracting the row maximum first changes
    nothing mathematically (it cancels between numerator and denominator) but keeps
    every exp(.) <= 1, so large logits cannot overflow (see :func:`softmax_naive`).

    Infinite and NaN logits: a row with +inf logits gives them the whole probability,
    shared equally (the limit as they grow; ``[[inf, 1.]] -> [[1., 0.]]``, where
    ``tf.nn.softmax`` gives ``[[nan, 0.]]``); -inf logits get probability 0; a row with
    a NaN, or with every logit -inf (no finite logit to normalise), is NaN throughout.
    """
    X = _logits(X)
    m = tf.reduce_max(X, axis=-1, keepdims=True)  # NaN when the row has a NaN
    pos_inf = tf.math.is_inf(m) & (m > 0)
    at_top = tf.where(X == m, tf.zeros_like(X), tf.constant(-np.inf, X.dtype))
    X_exp = tf.exp(tf.where(pos_inf, at_top, X - m))
    partition = tf.reduce_sum(X_exp, -1, keepdims=True)
    return X_exp / partition


class SoftmaxRegression(tf.Module):
    """Softmax regression: A = softmax(X W + b).

    ``W ~ N(0, sigma^2)`` of shape (num_inputs, num_outputs), ``b = 0``.
    ``seed`` makes the initialisation reproducible.
    """

    def __init__(
        self,
        num_inputs: int = 784,
        num_outputs: int = 10,
        *,
        sigma: float = 0.01,
        seed: int | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        shape = (
            check_positive_int(num_inputs, "num_inputs"),
            check_positive_int(num_outputs, "num_outputs"),
        )
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
        seed = check_seed(seed)
        if seed is None:
            W = tf.random.normal(shape, mean=0.0, stddev=sigma)
        else:
            W = tf.random.stateless_normal(shape, seed=[int(seed), 0], mean=0.0, stddev=sigma)
        self.W = tf.Variable(W, name="W")
        self.b = tf.Variable(tf.zeros(num_outputs), name="b")

    @property
    def params(self) -> list[tf.Variable]:
        """``[W, b]``, the list the book hands to :class:`Updater`."""
        return [self.W, self.b]

    def flatten(self, X: tf.Tensor) -> tf.Tensor:
        """Images (B, 28, 28, 1) (or any (B, ...) with d values each) -> (B, d) float32."""
        X = tf.convert_to_tensor(X)
        d = self.W.shape[0]
        per_example = X.shape[1:].num_elements()
        if X.shape.rank is not None and (
            X.shape.rank < 2 or (per_example is not None and per_example != d)
        ):
            raise ValueError(
                f"expected a batch of inputs with {d} values each "
                f"(e.g. shape (B, 28, 28, 1)), got shape {tuple(X.shape)}"
            )
        return tf.reshape(tf.cast(X, self.W.dtype), (-1, d))

    def logits(self, X: tf.Tensor) -> tf.Tensor:
        """Z = X W + b, shape (B, q): what the stable loss trains on."""
        return tf.matmul(self.flatten(X), self.W) + self.b

    def __call__(self, X: tf.Tensor) -> tf.Tensor:
        """Class probabilities softmax(X W + b), shape (B, q), as the book's ``net``."""
        return softmax(self.logits(X))


class CrossEntropy:
    """Cross-entropy J = -sum_j y_j log a_j = -log a_y for one-hot y, one value per example.

    ``cross_entropy(y_hat, y)`` takes probabilities, as the book does; a probability
    of exactly 0 gives a large finite loss (log is taken of at least the smallest
    positive float) instead of inf. Training uses :meth:`from_logits`, the stable
    form log sum_j exp(z_j) - z_y, whenever the model can give its logits.
    """

    def __call__(self, y_hat: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """y_hat (B, q) probabilities, y (B,) labels -> loss (B,)."""
        y_hat = tf.convert_to_tensor(y_hat)
        y = tf.convert_to_tensor(y)
        check_lined_up("y_hat", y_hat, y)
        q = y_hat.shape[-1]
        y = check_labels(y, q)
        tiny = tf.constant(np.finfo(y_hat.dtype.as_numpy_dtype).tiny, y_hat.dtype)
        if tf.executing_eagerly():  # the labels were checked
            picked = tf.gather(y_hat, y, axis=1, batch_dims=1)  # a_y for each row
            return -tf.math.log(tf.maximum(picked, tiny))
        # compiled: a label out of range gives a NaN loss, which stops training there
        # (a plain graph's gather would fail with its own message, XLA's would pick a_0)
        bad = (y < 0) | (y >= q)
        picked = tf.gather(y_hat, tf.where(bad, 0, y), axis=1, batch_dims=1)
        losses = -tf.math.log(tf.maximum(picked, tiny))
        return tf.where(bad, tf.constant(np.nan, y_hat.dtype), losses)

    def from_logits(self, logits: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """logits Z (B, q), labels y (B,) -> loss (B,) = logsumexp(Z) - Z[y]."""
        logits, y = tf.convert_to_tensor(logits), tf.convert_to_tensor(y)
        check_lined_up("logits", logits, y)
        y = check_labels(y, logits.shape[-1])
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)

    def __repr__(self) -> str:
        return "cross_entropy"


cross_entropy = CrossEntropy()


def trains_on_logits(net, loss) -> bool:
    """Whether training ``net`` with ``loss`` may use the stable fused form,
    ``loss.from_logits(net.logits(X), y)``: only when that is the same loss, that is when
    ``net`` is a :class:`SoftmaxRegression` whose ``__call__`` is softmax(logits) (a
    subclass may change ``logits``, not ``__call__``) and ``loss`` a :class:`CrossEntropy`
    whose ``__call__`` is not changed either."""
    return (
        isinstance(net, SoftmaxRegression)
        and type(net).__call__ is SoftmaxRegression.__call__
        and isinstance(loss, CrossEntropy)
        and type(loss).__call__ is CrossEntropy.__call__
    )


def softmax_regression_grad(X: tf.Tensor, A: tf.Tensor, y: tf.Tensor) -> tuple:
    """The hand-derived gradient of the summed cross-entropy of softmax regression.

    X (B, d), A = softmax(X W + b) (B, q), y (B,) ->
    dJ/dW = X^T (A - Y) of shape (d, q) and dJ/db = sum over the batch of (A - Y), (q,),
    with Y the one-hot labels. Summed, not averaged: the update divides by B.
    """
    X, A, y = tf.convert_to_tensor(X), tf.convert_to_tensor(A), tf.convert_to_tensor(y)
    check_lined_up("A", A, y)
    if X.shape.rank != 2 or not X.shape[:1].is_compatible_with(A.shape[:1]):
        raise ValueError(
            f"X {tuple(X.shape)} and A {tuple(A.shape)} do not line up: X must be (batch, inputs)"
        )
    y = check_labels(y, A.shape[-1])
    delta = A - tf.one_hot(y, A.shape[-1], dtype=A.dtype)
    return tf.matmul(X, delta, transpose_a=True), tf.reduce_sum(delta, axis=0)


_default_net: SoftmaxRegression | None = None


def net(X: tf.Tensor) -> tf.Tensor:
    """The chapter's ``net(X)``: probabilities from a module-wide model (W, b).

    The model is made on first use with ``seed=0``; ``default_model()`` returns it,
    with its ``W`` and ``b``. Prefer your own ``SoftmaxRegression(seed=...)``.
    """
    return default_model()(X)


def default_model() -> SoftmaxRegression:
    """The model behind :func:`net` (created on first use)."""
    global _default_net
    if _default_net is None:
        _default_net = SoftmaxRegression(seed=0)
    return _default_net
