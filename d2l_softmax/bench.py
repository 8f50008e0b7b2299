"""Side-by-side benchmark: ``python -m d2l_softmax.bench``.

One process, one run, the chapter's recipe (lr 0.1, batch 256, 10 epochs) on the
real Fashion-MNIST, five ways:

  (a) the book's eager loop, as the book writes it (batch-then-shuffle tf.data,
      GradientTape per batch, Python accumulators);
  (b) Keras ``fit`` with Flatten + Dense(10), SGD;
  (c) ``d2l_softmax.train_ch3`` with the chapter's net, loss and Updater;
  (d) the package's fastest path: ``train_epoch_ch3`` with the hand-derived gradient;
  (e) a minimal fused epoch, one XLA loop, as a lower bound.

An epoch is one pass of training plus the test accuracy. Then the README's main
command and the book's loop are each run as a separate process, for their whole
wall time and peak memory; and the squeezed recipe (cosine-decayed SGD) is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

import d2l_softmax as d2l

LR, BATCH, EPOCHS = 0.1, 256, 10


# ---------------------------------------------------------------- (a) the book, verbatim

def book_loop(data_dir=None, num_epochs=EPOCHS, plot_path=None):
    """The chapter's code as the book writes it; returns per-epoch seconds and metrics."""
    folder = d2l.find_fashion_mnist(data_dir)
    mnist_train = d2l.read_fashion_mnist(folder, "train")
    mnist_test = d2l.read_fashion_mnist(folder, "test")
    process = lambda X, y: (tf.expand_dims(X, axis=3) / 255, tf.cast(y, dtype="int32"))
    resize_fn = lambda X, y: (X, y)
    train_iter = tf.data.Dataset.from_tensor_slices(process(*mnist_train)).batch(BATCH).shuffle(
        len(mnist_train[0])).map(resize_fn)
    test_iter = tf.data.Dataset.from_tensor_slices(process(*mnist_test)).batch(BATCH).map(resize_fn)

    W = tf.Variable(tf.random.normal(shape=(784, 10), mean=0, stddev=0.01))
    b = tf.Variable(tf.zeros(10))

    def softmax(X):
        X_exp = tf.exp(X)
        return X_exp / tf.reduce_sum(X_exp, 1, keepdims=True)

    def net(X):
        return softmax(tf.matmul(tf.reshape(X, (-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -tf.math.log(tf.boolean_mask(y_hat, tf.one_hot(y, depth=y_hat.shape[-1])))

    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = tf.argmax(y_hat, axis=1)
        cmp = tf.cast(y_hat, y.dtype) == y
        return float(tf.reduce_sum(tf.cast(cmp, y.dtype)))

    def evaluate_accuracy(net, data_iter):
        metric = d2l.Accumulator(2)
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), tf.size(y).numpy())
        return metric[0] / metric[1]

    def sgd(params, grads, lr, batch_size):
        for param, grad in zip(params, grads):
            param.assign_sub(lr * grad / batch_size)

    def train_epoch_ch3(net, train_iter, loss, params):
        metric = d2l.Accumulator(3)
        for X, y in train_iter:
            with tf.GradientTape() as tape:
                y_hat = net(X)
                l = loss(y_hat, y)
            sgd(params, tape.gradient(l, params), LR, X.shape[0])
            metric.add(float(tf.reduce_sum(l)), accuracy(y_hat, y), tf.size(y).numpy())
        return metric[0] / metric[2], metric[1] / metric[2]

    animator = d2l.Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                            legend=["train loss", "train acc", "test acc"],
                            save_path=plot_path, verbose=False, live=False)
    seconds, metrics = [], None
    for epoch in range(num_epochs):
        start = time.perf_counter()
        train_metrics = train_epoch_ch3(net, train_iter, cross_entropy, [W, b])
        test_acc = evaluate_accuracy(net, test_iter)
        seconds.append(time.perf_counter() - start)
        metrics = train_metrics + (test_acc,)
        if plot_path:
            animator.add(epoch + 1, metrics)
    return seconds, metrics


# ---------------------------------------------------------------- (b) Keras fit

def keras_fit(data_dir=None):
    folder = d2l.find_fashion_mnist(data_dir)
    (Xtr, ytr), (Xte, yte) = (d2l.read_fashion_mnist(folder, s) for s in ("train", "test"))
    Xtr, Xte = (np.float32(X[..., None]) / 255 for X in (Xtr, Xte))
    net = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), tf.keras.layers.Flatten(),
                               tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.01))])
    net.compile(optimizer=tf.keras.optimizers.SGD(LR), metrics=["accuracy"],
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seconds = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    h = net.fit(Xtr, ytr.astype(np.int32), batch_size=BATCH, epochs=EPOCHS, verbose=0,
                validation_data=(Xte, yte.astype(np.int32)), callbacks=[Timer()])
    return seconds, (h.history["loss"][-1], h.history["accuracy"][-1], h.history["val_accuracy"][-1])


# ---------------------------------------------------------------- (c), (d) the package

def package_train_ch3(iters, seed=0):
    net = d2l.SoftmaxRegression(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        h = d2l.train_ch3(net, *iters, d2l.cross_entropy, EPOCHS, d2l.Updater(net.params, LR),
                          plot_path=os.path.join(tmp, "p.png"), verbose=False)
    return h.epoch_seconds, (h.train_loss[-1], h.train_acc[-1], h.test_acc[-1])


def package_fastest(iters, seed=0, batch_size=BATCH, lr=LR, num_epochs=EPOCHS, schedule=None):
    train_iter, test_iter = iters
    net = d2l.SoftmaxRegression(seed=seed)
    updater = d2l.AnalyticUpdater(net, lr)
    seconds = []
    for epoch in range(1, num_epochs + 1):
        if schedule:
            updater.lr = schedule(epoch)
        start = time.perf_counter()
        loss, acc = d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
        test_acc = d2l.evaluate_accuracy(net, test_iter)
        seconds.append(time.perf_counter() - start)
    return seconds, (loss, acc, test_acc)


# ---------------------------------------------------------------- (e) the floor

def fused_floor(data_dir=None, seed=0):
    folder = d2l.find_fashion_mnist(data_dir)
    (Xtr, ytr), (Xte, yte) = (d2l.read_fashion_mnist(folder, s) for s in ("train", "test"))
    Xtr, Xte = tf.constant(Xtr.reshape(-1, 784)), tf.constant(Xte.reshape(-1, 784))
    ytr, yte = tf.constant(ytr, tf.int32), tf.constant(yte, tf.int32)
    W = tf.Variable(tf.random.stateless_normal((784, 10), seed=[seed, 0], stddev=0.01))
    b = tf.Variable(tf.zeros(10))
    n, nb = Xtr.shape[0], Xtr.shape[0] // BATCH

    def step(x, y):
        x = tf.cast(x, tf.float32) / 255
        z = x @ W + b
        d = tf.nn.softmax(z) - tf.one_hot(y, 10)
        l = tf.reduce_sum(tf.reduce_logsumexp(z, 1) - tf.gather(z, y, batch_dims=1))
        m = tf.cast(tf.shape(x)[0], tf.float32)
        W.assign_sub(LR * tf.matmul(x, d, transpose_a=True) / m)
        b.assign_sub(LR * tf.reduce_sum(d, 0) / m)
        return tf.stack([l, tf.reduce_sum(tf.cast(tf.argmax(z, 1, tf.int32) == y, tf.float32))])

    @tf.function(jit_compile=True)
    def epoch(perm):
        X, y = tf.gather(Xtr, perm), tf.gather(ytr, perm)
        X3, y3 = tf.reshape(X[:nb * BATCH], (nb, BATCH, 784)), tf.reshape(y[:nb * BATCH], (nb, BATCH))
        _, s = tf.while_loop(lambda i, s: i < nb, lambda i, s: (i + 1, s + step(X3[i], y3[i])),
                             (0, tf.zeros(2)))
        s += step(X[nb * BATCH:], y[nb * BATCH:])
        test = tf.reduce_sum(tf.cast(tf.argmax(tf.cast(Xte, tf.float32) / 255 @ W + b, 1, tf.int32)
                                     == yte, tf.float32))
        return s / n, test / Xte.shape[0]

    seconds = []
    for e in range(EPOCHS):
        start = time.perf_counter()
        (loss, acc), test_acc = epoch(tf.random.experimental.stateless_shuffle(tf.range(n), [seed, e]))
        float(test_acc)
        seconds.append(time.perf_counter() - start)
    return seconds, (float(loss), float(acc), float(test_acc))


# ---------------------------------------------------------------- whole processes

_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), time.perf_counter() - start,
                  usage.ru_maxrss / 1024]))
"""


def run_process(args):
    """Wall seconds and peak resident memory (MiB) of a command run as its own process.

    A small Python process starts it: a child forked straight from this large process
    would report this process's peak memory as its own.
    """
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True,
                         text=True, check=True).stdout
    code, wall, peak = json.loads(out)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed with exit code {code}")
    return wall, peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m d2l_softmax.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--book-process", action="store_true",
                        help="(internal) run only the book's loop, as the process to measure")
    args = parser.parse_args(argv)
    if args.book_process:
        with tempfile.TemporaryDirectory() as tmp:
            book_loop(args.data_dir, plot_path=os.path.join(tmp, "book.png"))
        return 0

    iters = d2l.load_data_fashion_mnist(BATCH, data_dir=args.data_dir, seed=0)
    runs = {
        "(a) book eager loop": lambda: book_loop(args.data_dir),
        "(b) Keras fit": lambda: keras_fit(args.data_dir),
        "(c) d2l_softmax.train_ch3": lambda: package_train_ch3(iters),
        "(d) package fastest path": lambda: package_fastest(iters),
        "(e) fused lower bound": lambda: fused_floor(args.data_dir),
    }
    results = {}
    for name, fn in runs.items():
        seconds, metrics = fn()
        results[name] = (statistics.median(seconds[1:]), seconds[0], metrics)
        print(f"  ran {name}", file=sys.stderr, flush=True)
    c, e = results["(c) d2l_softmax.train_ch3"][0], results["(e) fused lower bound"][0]
    print(f"Fashion-MNIST, lr {LR}, batch {BATCH}, {EPOCHS} epochs; {os.cpu_count()} CPU cores, "
          f"TensorFlow {tf.__version__}; epoch = one training pass + test accuracy\n")
    print("| way | s/epoch (median of 2-10) | first epoch s | train loss | train acc | test acc "
          "| x (c) | x (e) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (median, first, (loss, acc, test_acc)) in results.items():
        print(f"| {name} | {median:.4f} | {first:.3f} | {loss:.4f} | {acc:.4f} | {test_acc:.4f} "
              f"| {median / c:.2f} | {median / e:.2f} |")

    main_cmd = run_process([sys.executable, "-m", "d2l_softmax", "train", "--seed", "0", "--out",
                            tempfile.mkdtemp(prefix="d2l_softmax_bench_")]
                           + (["--data-dir", args.data_dir] if args.data_dir else []))
    book_cmd = run_process([sys.executable, "-m", "d2l_softmax.bench", "--book-process"]
                           + (["--data-dir", args.data_dir] if args.data_dir else []))
    print("\n| whole process (import, data, 10 epochs, plots) | wall s | peak memory MiB |")
    print("|---|---|---|")
    print(f"| `d2l-softmax train` | {main_cmd[0]:.1f} | {main_cmd[1]:.0f} |")
    print(f"| book's loop as a script | {book_cmd[0]:.1f} | {book_cmd[1]:.0f} |")
    print(f"| ratio | {main_cmd[0] / book_cmd[0]:.2f} | {main_cmd[1] / book_cmd[1]:.2f} |")

    squeeze = d2l.load_data_fashion_mnist(64, data_dir=args.data_dir, seed=0)
    start = time.perf_counter()
    _, (loss, acc, test_acc) = package_fastest(squeeze, batch_size=64, lr=0.2, num_epochs=20,
                                               schedule=d2l.cosine_schedule(0.2, 20))
    print(f"\nSqueezed recipe (batch 64, lr 0.2 cosine-decayed, 20 epochs): test accuracy "
          f"{test_acc:.4f} in {time.perf_counter() - start:.1f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
