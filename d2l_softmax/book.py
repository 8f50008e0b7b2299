"""The rest of the book's ``d2l`` module that this chapter and the next ones call.

The chapter's code writes ``d2l.tensor``, ``d2l.exp``, ``d2l.matmul``, ``d2l.reshape``...:
the book's short names for TensorFlow functions, defined here as the book defines
them. Also the earlier chapters' helpers that later chapters reuse: :class:`Timer`
(reading the data set), and the linear-regression chapters' ``synthetic_data``,
``linreg``, ``squared_loss`` and ``load_array`` (weight decay, model selection), and the
model-selection chapter's ``evaluate_loss``.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from .train import forward

# ---------------------------------------------------------------- the book's aliases

ones = tf.ones
zeros = tf.zeros
tensor = tf.constant
arange = tf.range
meshgrid = tf.meshgrid
linspace = tf.linspace
sin, sinh, cos, cosh, tanh = tf.sin, tf.sinh, tf.cos, tf.cosh, tf.tanh
exp = tf.exp
abs = tf.abs  # noqa: A001 (the book's name)
normal = tf.random.normal
rand = tf.random.uniform
matmul = tf.matmul
reduce_sum = tf.reduce_sum
argmax = tf.argmax
reshape = tf.reshape
astype = tf.cast
transpose = tf.transpose
concat = tf.concat
stack = tf.stack
eye = tf.eye
int32, float32 = tf.int32, tf.float32


def numpy(x, *args, **kwargs) -> np.ndarray:
    """A tensor's values as a NumPy array."""
    return x.numpy(*args, **kwargs)


def size(a) -> int:
    """The number of elements of a tensor, as a Python int."""
    return int(tf.size(a))


# ---------------------------------------------------------------- earlier chapters' helpers


class Timer:
    """Record several running times: ``start()``, ``stop()``, then ``avg()``, ``sum()``."""

    def __init__(self):
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """Start the timer."""
        self.tik = time.time()

    def stop(self) -> float:
        """Stop the timer, record the time since :meth:`start` and return it (s)."""
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        """The mean of the recorded times."""
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        """The total of the recorded times."""
        return sum(self.times)

    def cumsum(self) -> list[float]:
        """The running totals of the recorded times."""
        return np.array(self.times).cumsum().tolist()


def synthetic_data(w, b, num_examples: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Examples of y = X w + b + noise: X (num_examples, len(w)) standard normal,
    y (num_examples, 1) with Gaussian noise of standard deviation 0.01."""
    X = tf.random.normal((num_examples, w.shape[0]))
    y = tf.matmul(X, tf.reshape(w, (-1, 1))) + b
    y += tf.random.normal(shape=y.shape, stddev=0.01)
    return X, tf.reshape(y, (-1, 1))


def linreg(X, w, b) -> tf.Tensor:
    """The linear regression model: X (B, d), w (d, 1), b -> X w + b, (B, 1)."""
    return tf.matmul(X, w) + b


def squared_loss(y_hat, y) -> tf.Tensor:
    """Half the squared error, per example: (y_hat - y)^2 / 2, shaped as y_hat."""
    return (y_hat - tf.reshape(y, y_hat.shape)) ** 2 / 2


def load_array(data_arrays, batch_size: int, is_train: bool = True) -> tf.data.Dataset:
    """Batches of ``data_arrays`` (a tuple of arrays with the same first dimension),
    shuffled (in a buffer of 1,000 examples) when ``is_train``."""
    dataset = tf.data.Dataset.from_tensor_slices(data_arrays)
    if is_train:
        dataset = dataset.shuffle(buffer_size=1000)
    return dataset.batch(batch_size)


def evaluate_loss(net, data_iter, loss) -> float:
    """The book's helper from the model-selection chapter: the sum of every loss value
    over ``data_iter`` divided by their number, ``sum(reduce_sum(l)) / sum(size(l))``.
    Per-example losses give the mean per example; a loss giving one number a batch
    (a Keras loss's mean) gives the mean of those numbers, as in the book. ``loss``:
    as :func:`train_epoch_ch3` takes it."""
    total, count = 0.0, 0
    for X, y in data_iter:
        _, l = forward(net, loss, X, y)
        total += float(tf.reduce_sum(l))
        count += int(tf.size(l))
    if count == 0:
        raise ValueError("data_iter yielded no examples")
    return total / count
