"""What the benchmark trains, each way it can be trained: ``WAYS[family][name]``.

A way is ``way(folder, seed)``: it prepares what a learner has before the cell they
wait for runs (the data read, the datasets built; not timed) and returns
``run(plot_path)``, the cell itself (a fresh net, compiling, 10 epochs, the test
accuracy each epoch, the training plot; timed whole). ``run`` returns
``(epoch_seconds, (train loss, train acc, test acc))``, an epoch being one training
pass plus the test accuracy.

Two families: softmax regression (the chapter) and the multilayer perceptron (the
next chapters). Each has the book's eager loop, Keras ``fit``, ``train_ch3`` with the
book's own code, and hand-fused bounds (:mod:`bounds`): the same work with nothing
general left in, so the fastest of them is the fastest way this machine has.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

import d2l_softmax as d2l

import bounds
import recipe
from book_loop import book_loop
from recipe import BATCH, HIDDEN, LR, arrays

# ---------------------------------------------------------------- the book's code


def chapter_softmax(seed):
    """The chapter's model as the book writes it: ``(net, loss, updater)``."""
    tf.random.set_seed(seed)
    W = tf.Variable(tf.random.normal(shape=(784, 10), mean=0, stddev=0.01))
    b = tf.Variable(tf.zeros(10))

    def softmax(X):
        X_exp = d2l.exp(X)
        partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
        return X_exp / partition  # The broadcasting mechanism is applied here

    def net(X):
        return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -tf.math.log(tf.boolean_mask(y_hat, tf.one_hot(y, depth=y_hat.shape[-1])))

    class Updater:  # the book's, with d2l.sgd
        def __init__(self, params, lr):
            self.params = params
            self.lr = lr

        def __call__(self, batch_size, grads):
            d2l.sgd(self.params, grads, self.lr, batch_size)

    return net, cross_entropy, Updater([W, b], lr=LR)


def package_softmax(seed):
    """The package's model: SoftmaxRegression, d2l.cross_entropy, d2l.Updater."""
    net = d2l.SoftmaxRegression(seed=seed)
    return net, d2l.cross_entropy, d2l.Updater(net.params, LR)


def mlp_scratch(seed):
    """The book's MLP from scratch (chapter mlp-implementation)."""
    tf.random.set_seed(seed)
    num_inputs, num_outputs, num_hiddens = 784, 10, HIDDEN
    W1 = tf.Variable(tf.random.normal(shape=(num_inputs, num_hiddens), mean=0, stddev=0.01))
    b1 = tf.Variable(tf.zeros(num_hiddens))
    W2 = tf.Variable(tf.random.normal(shape=(num_hiddens, num_outputs), mean=0, stddev=0.01))
    b2 = tf.Variable(tf.zeros(num_outputs))

    def relu(X):
        return tf.math.maximum(X, 0)

    def net(X):
        X = tf.reshape(X, (-1, num_inputs))
        H = relu(tf.matmul(X, W1) + b1)
        return tf.matmul(H, W2) + b2

    def loss(y_hat, y):
        return tf.losses.sparse_categorical_crossentropy(y, y_hat, from_logits=True)

    return net, loss, d2l.Updater([W1, W2, b1, b2], LR)


def keras_model(hidden: bool, seed):
    """The concise chapters' Keras nets: Flatten + Dense(10), or with Dense(256, relu)."""
    tf.random.set_seed(seed)
    layers = [tf.keras.layers.Flatten()]
    if hidden:
        layers.append(tf.keras.layers.Dense(HIDDEN, activation="relu"))
    layers.append(
        tf.keras.layers.Dense(
            10, kernel_initializer=tf.keras.initializers.RandomNormal(mean=0.0, stddev=0.01)
        )
    )
    return tf.keras.models.Sequential(layers)


def keras_dense(seed):
    return (
        keras_model(False, seed),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        tf.keras.optimizers.SGD(learning_rate=LR),
    )


def keras_mlp(seed):
    return (
        keras_model(True, seed),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        tf.keras.optimizers.SGD(learning_rate=LR),
    )


# ---------------------------------------------------------------- train_ch3


def train_ch3(model, jit_compile=None):
    """``train_ch3`` with the model ``model(seed)`` gives, on the loader's datasets;
    ``jit_compile`` as ``train_ch3`` takes it (None: its own choice)."""

    def way(folder, seed):
        train_iter, test_iter = d2l.load_data_fashion_mnist(BATCH, data_dir=folder, seed=seed)

        def run(plot_path):
            net, loss, updater = model(seed)
            h = d2l.train_ch3(
                net,
                train_iter,
                test_iter,
                loss,
                recipe.EPOCHS,
                updater,
                verbose=False,
                check=False,
                plot_path=plot_path,
                jit_compile=jit_compile,
            )
            return h.epoch_seconds, (h.train_loss[-1], h.train_acc[-1], h.test_acc[-1])

        return run

    return way


# ---------------------------------------------------------------- Keras fit


def keras_fit(hidden: bool):
    """Keras ``fit`` on float arrays with the same net, loss and SGD, validating each epoch."""

    def way(folder, seed):
        (Xtr, ytr), (Xte, yte) = arrays(folder)
        Xtr, Xte = (np.float32(X[..., None]) / 255 for X in (Xtr, Xte))
        ytr, yte = ytr.astype(np.int32), yte.astype(np.int32)

        def run(plot_path):
            net = keras_model(hidden, seed)
            net.compile(
                optimizer=tf.keras.optimizers.SGD(LR),
                metrics=["accuracy"],
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            seconds = []

            class Seconds(tf.keras.callbacks.Callback):  # validation is inside the epoch
                def on_epoch_begin(self, epoch, logs=None):
                    self.start = time.perf_counter()

                def on_epoch_end(self, epoch, logs=None):
                    seconds.append(time.perf_counter() - self.start)

            logs = net.fit(
                Xtr,
                ytr,
                batch_size=BATCH,
                epochs=recipe.EPOCHS,
                verbose=0,
                validation_data=(Xte, yte),
                callbacks=[Seconds()],
            ).history
            return seconds, (logs["loss"][-1], logs["accuracy"][-1], logs["val_accuracy"][-1])

        return run

    return way


# ---------------------------------------------------------------- the table's rows

BOUNDS = ("bound: fused XLA", "bound: fused graph", "bound: fused NumPy")
NETS = {  # the softmax family, then the MLP family
    "the chapter's code": chapter_softmax,
    "package model": package_softmax,
    "Keras Dense": keras_dense,
    "MLP from scratch": mlp_scratch,
    "Keras MLP": keras_mlp,
}
FAMILY = {
    "the chapter's code": "softmax",
    "package model": "softmax",
    "Keras Dense": "softmax",
    "MLP from scratch": "MLP",
    "Keras MLP": "MLP",
}
# the book's loop a train_ch3 row is compared with: the same net (the package's model
# does the chapter's arithmetic)
BOOK_OF = {"package model": "the chapter's code"}
# every train_ch3 row also runs with XLA forced (jit_compile=True): what the default's
# plain graph saves and costs in a 10-epoch run, the epochs a run long enough for XLA
# gets (engine.XLA_MIN_STEPS), and when XLA pays back for each net
XLA_TOO = tuple(NETS)


def all_ways() -> dict:
    """{(family, row name): way}, in the table's order."""
    ways = {}
    for family, hidden in (("softmax", False), ("MLP", True)):
        nets = [name for name in NETS if FAMILY[name] == family]
        for name in nets:
            if name not in BOOK_OF:
                ways[family, f"book's eager loop, {name}"] = book_loop(NETS[name])
        ways[family, "Keras fit"] = keras_fit(hidden)
        for name in nets:
            ways[family, f"train_ch3, {name}"] = train_ch3(NETS[name])
        for name in nets:
            if name in XLA_TOO:
                ways[family, f"train_ch3 XLA, {name}"] = train_ch3(NETS[name], jit_compile=True)
        fused = (
            bounds.fused_tf(hidden, True),
            bounds.fused_tf(hidden, False),
            bounds.fused_numpy(hidden),
        )
        for bound, way in zip(BOUNDS, fused):
            ways[family, bound] = way
    return ways
