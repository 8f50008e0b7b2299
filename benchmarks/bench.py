"""Side-by-side benchmark: ``python benchmarks/bench.py``.

One process, one run, the chapter's recipe (lr 0.1, batch 256, 10 epochs) on the
real Fashion-MNIST, five ways:

  (a) the book's eager loop, as the book writes it (batch-then-shuffle tf.data,
      GradientTape per batch, Python accumulators);
  (b) Keras ``fit`` with Flatten + Dense(10), SGD;
  (c) ``d2l_softmax.train_ch3`` with the chapter's net, loss and Updater;
  (d) the package's other path: ``train_epoch_ch3`` with the hand-derived gradient
      (:class:`~d2l_softmax.optim.AnalyticUpdater`, no tape);
  (e) a minimal fused epoch, one XLA loop, as a lower bound.

An epoch is one pass of training plus the test accuracy. The five take turns
epoch by epoch (see :func:`stepped`), so a burst of load on a shared machine hits
them alike and the ratios hold even when the absolute times do not.

Then the README's main command, the
book's loop as a script, and a bare ``import tensorflow`` run as separate
processes, in turn, for their whole wall time and peak memory; and the squeezed
recipe (:data:`SQUEEZED`) is trained with three seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Iterator

import numpy as np
import tensorflow as tf

import d2l_softmax as d2l

LR, BATCH, EPOCHS = 0.1, 256, 10
# The squeezed recipe: the same model and loss, minibatch SGD with the learning rate
# decayed along half a cosine (`d2l-softmax train --epochs 30 --batch-size 128
# --lr 0.3 --schedule cosine`).
SQUEEZED = dict(batch_size=128, lr=0.3, num_epochs=30)
PROCESS_RUNS = 3  # times each whole-process command is run (in turn) for its median


# ---------------------------------------------------------------- (a) the book, verbatim

def book_loop(report, data_dir=None, plot_path=None):
    """The chapter's code as the book writes it, reporting each epoch's seconds and metrics."""
    num_epochs = EPOCHS
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
    for epoch in range(num_epochs):
        start = time.perf_counter()
        train_metrics = train_epoch_ch3(net, train_iter, cross_entropy, [W, b])
        test_acc = evaluate_accuracy(net, test_iter)
        report(time.perf_counter() - start, train_metrics + (test_acc,))
        if plot_path:
            animator.add(epoch + 1, train_metrics + (test_acc,))


# ---------------------------------------------------------------- (b) Keras fit

def keras_fit(report, data_dir=None):
    folder = d2l.find_fashion_mnist(data_dir)
    (Xtr, ytr), (Xte, yte) = (d2l.read_fashion_mnist(folder, s) for s in ("train", "test"))
    Xtr, Xte = (np.float32(X[..., None]) / 255 for X in (Xtr, Xte))
    net = tf.keras.Sequential([tf.keras.Input((28, 28, 1)), tf.keras.layers.Flatten(),
                               tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.01))])
    net.compile(optimizer=tf.keras.optimizers.SGD(LR), metrics=["accuracy"],
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Report(tf.keras.callbacks.Callback):  # the validation pass is inside the epoch
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            report(time.perf_counter() - self.start,
                   (logs["loss"], logs["accuracy"], logs["val_accuracy"]))

    net.fit(Xtr, ytr.astype(np.int32), batch_size=BATCH, epochs=EPOCHS, verbose=0,
            validation_data=(Xte, yte.astype(np.int32)), callbacks=[Report()])


# ---------------------------------------------------------------- (c), (d) the package

class _Reporter(d2l.Animator):
    """An animator that hands each epoch's seconds and numbers to ``report``.

    ``train_ch3`` calls ``add`` once per epoch; an epoch's seconds are the time
    from the end of the previous ``add`` (or from making the animator) to this one.
    """

    def __init__(self, report):
        super().__init__(live=False, verbose=False)
        self.report, self.since = report, time.perf_counter()

    def add(self, x, y):
        self.report(time.perf_counter() - self.since, tuple(y))
        self.since = time.perf_counter()

    def close(self):
        pass


def package_train_ch3(report, data_dir=None, seed=0):
    train_iter, test_iter = d2l.load_data_fashion_mnist(BATCH, data_dir=data_dir, seed=seed)
    net = d2l.SoftmaxRegression(seed=seed)
    d2l.train_ch3(net, train_iter, test_iter, d2l.cross_entropy, EPOCHS,
                  d2l.Updater(net.params, LR), verbose=False, animator=_Reporter(report))


def package_analytic(report, data_dir=None, seed=0):
    train_iter, test_iter = d2l.load_data_fashion_mnist(BATCH, data_dir=data_dir, seed=seed)
    net = d2l.SoftmaxRegression(seed=seed)
    updater = d2l.AnalyticUpdater(net, LR)
    for _ in range(EPOCHS):
        start = time.perf_counter()
        loss, acc = d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
        test_acc = d2l.evaluate_accuracy(net, test_iter)
        report(time.perf_counter() - start, (loss, acc, test_acc))


def squeezed(data_dir=None, seed=0, batch_size=SQUEEZED["batch_size"], lr=SQUEEZED["lr"],
             num_epochs=SQUEEZED["num_epochs"]):
    """The squeezed recipe through ``train_ch3``: (final test accuracy, seconds)."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, data_dir=data_dir,
                                                        seed=seed)
    net = d2l.SoftmaxRegression(seed=seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        h = d2l.train_ch3(net, train_iter, test_iter, d2l.cross_entropy, num_epochs,
                          d2l.Updater(net.params, lr), verbose=False,
                          lr_schedule=d2l.cosine_schedule(lr, num_epochs),
                          plot_path=os.path.join(tmp, "p.png"))
    return h.test_acc[-1], time.perf_counter() - start


# ---------------------------------------------------------------- (e) the floor

def fused_floor(report, data_dir=None, seed=0):
    """Training pass and test accuracy as one XLA function; the short batch first."""
    folder = d2l.find_fashion_mnist(data_dir)
    (Xtr, ytr), (Xte, yte) = (d2l.read_fashion_mnist(folder, s) for s in ("train", "test"))
    Xtr, Xte = tf.constant(Xtr.reshape(-1, 784)), tf.constant(Xte.reshape(-1, 784))
    ytr, yte = tf.constant(ytr, tf.int32), tf.constant(yte, tf.int32)
    W = tf.Variable(tf.random.stateless_normal((784, 10), seed=[seed, 0], stddev=0.01))
    b = tf.Variable(tf.zeros(10))
    n, (nb, tail) = Xtr.shape[0], divmod(Xtr.shape[0], BATCH)

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
        s = step(X[:tail], y[:tail])
        X3, y3 = tf.reshape(X[tail:], (nb, BATCH, 784)), tf.reshape(y[tail:], (nb, BATCH))
        _, s = tf.while_loop(lambda i, s: i < nb, lambda i, s: (i + 1, s + step(X3[i], y3[i])),
                             (0, s))
        test = tf.reduce_sum(tf.cast(tf.argmax(tf.cast(Xte, tf.float32) / 255 @ W + b, 1, tf.int32)
                                     == yte, tf.float32))
        return s / n, test / Xte.shape[0]

    for e in range(EPOCHS):
        start = time.perf_counter()
        (loss, acc), test_acc = epoch(tf.random.experimental.stateless_shuffle(tf.range(n), [seed, e]))
        float(test_acc)
        report(time.perf_counter() - start, (float(loss), float(acc), float(test_acc)))


# ---------------------------------------------------------------- taking turns

def stepped(way: Callable, *args) -> Iterator[tuple[float, tuple]]:
    """Run ``way(report, *args)`` one epoch at a time: yield what it reports.

    ``way`` calls ``report(seconds, metrics)`` after each epoch. It runs in a thread
    that waits inside ``report`` until the next epoch is asked for, so several ways
    can take turns epoch by epoch while only one of them runs at any moment.
    """
    reports, turn = queue.Queue(), threading.Semaphore(0)

    def report(seconds, metrics):
        reports.put((seconds, metrics))
        turn.acquire()

    def run():
        try:
            way(report, *args)
            reports.put(None)
        except BaseException as err:  # handed to the caller below
            reports.put(err)

    threading.Thread(target=run, daemon=True).start()
    while (item := reports.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item
        turn.release()


# ---------------------------------------------------------------- whole processes

_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), time.perf_counter() - start,
                  usage.ru_maxrss / 1024]))
"""


def run_process(args, env=None):
    """Wall seconds and peak resident memory (MiB) of a command run as its own process.

    A small Python process starts it: a child forked straight from this large process
    would report this process's peak memory as its own.
    """
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True,
                         text=True, check=True, env=env).stdout
    code, wall, peak = json.loads(out)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed with exit code {code}")
    return wall, peak


def whole_processes(tmp: str, data_dir=None) -> dict:
    """{name: (median wall seconds, median peak MiB)} of the commands, run in turn."""
    data = ["--data-dir", data_dir] if data_dir else []
    train = [sys.executable, "-m", "d2l_softmax", "train", "--seed", "0",
             "--out", os.path.join(tmp, "out")] + data
    commands = {  # name: (command, environment)
        "`d2l-softmax train`": (train, lambda: None),
        "book's loop as a script":
            ([sys.executable, __file__, "--book-process"] + data, lambda: None),
        "`import tensorflow` alone": ([sys.executable, "-c", "import tensorflow"], lambda: None),
    }
    measured = {name: [] for name in commands}
    for _ in range(PROCESS_RUNS):
        for name, (command, env) in commands.items():
            measured[name].append(run_process(command, env()))
    return {name: (statistics.median(w for w, _ in runs), statistics.median(p for _, p in runs))
            for name, runs in measured.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir")
    parser.add_argument("--book-process", action="store_true",
                        help="(internal) run only the book's loop, as the process to measure")
    args = parser.parse_args(argv)
    if args.book_process:
        with tempfile.TemporaryDirectory() as tmp:
            book_loop(lambda seconds, metrics: None, args.data_dir,
                      plot_path=os.path.join(tmp, "book.png"))
        return 0

    ways = {
        "(a) book eager loop": book_loop,
        "(b) Keras fit": keras_fit,
        "(c) d2l_softmax.train_ch3": package_train_ch3,
        "(d) package, AnalyticUpdater": package_analytic,
        "(e) fused lower bound": fused_floor,
    }
    runs = {name: stepped(way, args.data_dir) for name, way in ways.items()}
    seconds = {name: [] for name in ways}
    metrics = {}
    for epoch in range(EPOCHS):  # one epoch of each way in turn
        for name, run in runs.items():
            took, metrics[name] = next(run)
            seconds[name].append(took)
        print(f"  epoch {epoch + 1} of each way done", file=sys.stderr, flush=True)
    for name, run in runs.items():  # let each way finish
        if next(run, None) is not None:
            raise RuntimeError(f"{name} ran more epochs than asked")
    results = {name: (statistics.median(seconds[name][1:]), seconds[name][0], metrics[name])
               for name in ways}
    c, e = results["(c) d2l_softmax.train_ch3"][0], results["(e) fused lower bound"][0]
    print(f"Fashion-MNIST, lr {LR}, batch {BATCH}, {EPOCHS} epochs; {os.cpu_count()} CPU cores, "
          f"TensorFlow {tf.__version__}; epoch = one training pass + test accuracy\n")
    print("| way | s/epoch (median of 2-10) | first epoch s | train loss | train acc | test acc "
          "| x (c) | x (e) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (median, first, (loss, acc, test_acc)) in results.items():
        print(f"| {name} | {median:.4f} | {first:.3f} | {loss:.4f} | {acc:.4f} | {test_acc:.4f} "
              f"| {median / c:.2f} | {median / e:.2f} |")

    with tempfile.TemporaryDirectory(prefix="d2l_softmax_bench_") as tmp:
        medians = whole_processes(tmp, args.data_dir)
    book_wall, book_peak = medians["book's loop as a script"]
    print(f"\n| whole process (import, data, 10 epochs, plots); median of {PROCESS_RUNS} "
          "| wall s | peak memory MiB | x book wall | x book memory |")
    print("|---|---|---|---|---|")
    for name, (wall, peak) in medians.items():
        print(f"| {name} | {wall:.2f} | {peak:.0f} | {wall / book_wall:.2f} "
              f"| {peak / book_peak:.2f} |")

    runs = [squeezed(args.data_dir, seed) for seed in range(3)]
    accs = [acc for acc, _ in runs]
    print(f"\nSqueezed recipe (batch {SQUEEZED['batch_size']}, lr {SQUEEZED['lr']} cosine-decayed, "
          f"{SQUEEZED['num_epochs']} epochs), seeds 0-2: test accuracy "
          + ", ".join(f"{a:.4f}" for a in accs)
          + f" (mean {statistics.mean(accs):.4f}); "
          f"{statistics.median(t for _, t in runs):.1f} s each (median), compiling included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
