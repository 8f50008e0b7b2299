"""Hand-fused bounds: the benchmark's work with nothing general left in.

Each is a way (see :mod:`ways`) that trains the softmax regression (``hidden``
False) or the MLP with the hand-derived gradient, no tape, in one TensorFlow
function per epoch (XLA or a plain graph), or in NumPy with one BLAS thread. The
fastest of them, column by column, is the bound the benchmark compares with.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

import recipe
from recipe import BATCH, HIDDEN, LR, arrays


def _draw_once(history, plot_path):
    """The training curves, drawn once at the end: the least a plot can cost."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.5, 2.5))
    ax = fig.subplots()
    for values in zip(*history):
        ax.plot(range(1, len(values) + 1), values)
    fig.savefig(plot_path)


def _batches(n):
    """(tail, full): the short batch, then the full ones (the loader puts the short batch
    last; which comes first does not change the work)."""
    return n % BATCH, n // BATCH


def _test_chunk(n):
    """How many test images the accuracy is taken on at a time: the largest divisor of
    ``n`` up to the batch size (10,000 = 40 x 250). One product of all 10,000 at once
    makes a 31 MB float32 copy and measured slower than train_ch3's batches of 256."""
    return max(d for d in range(1, BATCH + 1) if n % d == 0)


def fused_tf(hidden: bool, jit: bool):
    """The epoch as one TensorFlow function (XLA or a plain graph): the hand-derived
    gradient, no tape, the batch gathered from the uint8 images in the loop."""

    def way(folder, seed):
        (Xtr, ytr), (Xte, yte) = arrays(folder)
        Xtr, Xte = tf.constant(Xtr.reshape(-1, 784)), tf.constant(Xte.reshape(-1, 784))
        ytr, yte = tf.constant(ytr, tf.int32), tf.constant(yte, tf.int32)
        n, (tail, full) = Xtr.shape[0], _batches(Xtr.shape[0])

        def run(plot_path):
            shapes = [(784, HIDDEN), (HIDDEN, 10)] if hidden else [(784, 10)]
            Ws = [
                tf.Variable(tf.random.stateless_normal(s, seed=[seed, i], stddev=0.01))
                for i, s in enumerate(shapes)
            ]
            bs = [tf.Variable(tf.zeros(s[1])) for s in shapes]

            def forward(x):
                h = tf.cast(x, tf.float32) / 255
                hs = [h]
                for W, b in zip(Ws[:-1], bs[:-1]):
                    h = tf.nn.relu(h @ W + b)
                    hs.append(h)
                return hs, h @ Ws[-1] + bs[-1]

            def step(x, y):
                hs, z = forward(x)
                # one softmax for both the loss and the gradient, as the NumPy bound does
                z = z - tf.reduce_max(z, 1, keepdims=True)
                e = tf.exp(z)
                s = tf.reduce_sum(e, 1, keepdims=True)
                l = tf.reduce_sum(tf.math.log(s[:, 0]) - tf.gather(z, y, batch_dims=1))
                d = (e / s - tf.one_hot(y, 10)) * (LR / tf.cast(tf.shape(x)[0], tf.float32))
                for W, b, h in reversed(list(zip(Ws, bs, hs))):
                    back = tf.matmul(d, W, transpose_b=True) if h is not hs[0] else None
                    W.assign_sub(tf.matmul(h, d, transpose_a=True))
                    b.assign_sub(tf.reduce_sum(d, 0))
                    if back is not None:
                        d = back * tf.cast(h > 0, tf.float32)
                correct = tf.reduce_sum(tf.cast(tf.argmax(z, 1, tf.int32) == y, tf.float32))
                return tf.stack([l, correct])

            @tf.function(jit_compile=jit, autograph=False)
            def epoch(perm):
                s = step(tf.gather(Xtr, perm[:tail]), tf.gather(ytr, perm[:tail]))
                batches = tf.reshape(perm[tail:], (full, BATCH))

                def body(i, s):
                    return i + 1, s + step(tf.gather(Xtr, batches[i]), tf.gather(ytr, batches[i]))

                _, s = tf.while_loop(lambda i, s: i < full, body, (0, s))
                chunk = _test_chunk(yte.shape[0])
                chunks = tf.reshape(Xte, (-1, chunk, 784))
                labels = tf.reshape(yte, (-1, chunk))
                _, correct = tf.while_loop(
                    lambda i, c: i < chunks.shape[0],
                    lambda i, c: (
                        i + 1,
                        c
                        + tf.reduce_sum(
                            tf.cast(
                                tf.argmax(forward(chunks[i])[1], 1, tf.int32) == labels[i],
                                tf.float32,
                            )
                        ),
                    ),
                    (0, 0.0),
                )
                return s / n, correct / yte.shape[0]

            seconds, history = [], []
            for e in range(recipe.EPOCHS):
                start = time.perf_counter()
                perm = tf.random.experimental.stateless_shuffle(tf.range(n), [seed, e])
                (loss, acc), test_acc = epoch(perm)
                history.append((float(loss), float(acc), float(test_acc)))
                seconds.append(time.perf_counter() - start)
            _draw_once(history, plot_path)
            return seconds, history[-1]

        return run

    return way


def fused_numpy(hidden: bool):
    """The same in NumPy, one BLAS thread (the benchmark sets it for this process)."""

    def way(folder, seed):
        (Xtr, ytr), (Xte, yte) = arrays(folder)
        Xtr, Xte = Xtr.reshape(-1, 784), Xte.reshape(-1, 784)
        n, (tail, full) = len(ytr), _batches(len(ytr))
        bounds = [(0, tail)] + [(tail + i * BATCH, tail + (i + 1) * BATCH) for i in range(full)]
        eye = np.eye(10, dtype=np.float32)

        def run(plot_path):
            rng = np.random.default_rng(seed)
            shapes = [(784, HIDDEN), (HIDDEN, 10)] if hidden else [(784, 10)]
            Ws = [np.float32(rng.standard_normal(s) * 0.01) for s in shapes]
            bs = [np.zeros(s[1], np.float32) for s in shapes]

            def forward(x):
                hs = [np.multiply(x, np.float32(1 / 255), dtype=np.float32)]
                for W, b in zip(Ws[:-1], bs[:-1]):
                    hs.append(np.maximum(hs[-1] @ W + b, 0))
                return hs, hs[-1] @ Ws[-1] + bs[-1]

            seconds, history = [], []
            for _ in range(recipe.EPOCHS):
                start = time.perf_counter()
                order, loss, correct = rng.permutation(n), 0.0, 0
                for a, b_ in bounds[0 if tail else 1 :]:
                    idx = order[a:b_]
                    x, y = Xtr[idx], ytr[idx]
                    hs, z = forward(x)
                    z -= z.max(1, keepdims=True)
                    e = np.exp(z)
                    s = e.sum(1, keepdims=True)
                    loss += float(np.log(s[:, 0]).sum() - z[np.arange(len(y)), y].sum())
                    correct += int((z.argmax(1) == y).sum())
                    d = (e / s - eye[y]) * np.float32(LR / len(y))
                    for W, b, h in reversed(list(zip(Ws, bs, hs))):
                        back = d @ W.T if h is not hs[0] else None
                        W -= h.T @ d
                        b -= d.sum(0)
                        if back is not None:
                            d = back * (h > 0)
                chunk = _test_chunk(len(yte))
                test_acc = sum(
                    int((forward(Xte[i : i + chunk])[1].argmax(1) == yte[i : i + chunk]).sum())
                    for i in range(0, len(yte), chunk)
                ) / len(yte)
                history.append((loss / n, correct / n, test_acc))
                seconds.append(time.perf_counter() - start)
            _draw_once(history, plot_path)
            return seconds, history[-1]

        return run

    return way
