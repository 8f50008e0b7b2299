"""Plain helpers several test modules import (the shared fixtures are in conftest.py)."""

import atexit
import gzip
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

SMALL_TRAIN, SMALL_TEST = 300, 100


def scratch_folder(prefix: str) -> Path:
    """A temporary folder for tests that cannot take ``tmp_path`` (hypothesis runs many
    examples in one test); removed when the test process ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims, payload."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    raw = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw, compresslevel=1))
    else:
        path.write_bytes(raw)
    return path


def make_split(n: int, rng: np.random.Generator):
    """Images whose class is learnable: class k lights up rows 2k..2k+3."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 2 : 2 * k + 6, :] = 250
    return images, labels


# D2L_FUZZ_EXAMPLES=5000 fuzzes longer
FUZZ = settings(
    max_examples=int(os.environ.get("D2L_FUZZ_EXAMPLES", 80)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# The chapter's TensorFlow cells (Softmax Regression from Scratch), as the book writes them;
# run them with ``exec(CHAPTER_CELLS, {"d2l": d2l})``
CHAPTER_CELLS = """
import tensorflow as tf
num_inputs = 784
num_outputs = 10

W = tf.Variable(tf.random.normal(shape=(num_inputs, num_outputs),
                                 mean=0, stddev=0.01))
b = tf.Variable(tf.zeros(num_outputs))

X = d2l.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
sums = d2l.reduce_sum(X, 0, keepdims=True), d2l.reduce_sum(X, 1, keepdims=True)

def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
    return X_exp / partition  # The broadcasting mechanism is applied here

def net(X):
    return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)

y_hat = tf.constant([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = tf.constant([0, 2])

def cross_entropy(y_hat, y):
    return -tf.math.log(tf.boolean_mask(
        y_hat, tf.one_hot(y, depth=y_hat.shape[-1])))

def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = d2l.argmax(y_hat, axis=1)
    cmp = d2l.astype(y_hat, y.dtype) == y
    return float(d2l.reduce_sum(d2l.astype(cmp, y.dtype)))

first_accuracy = accuracy(y_hat, y) / len(y)

class Accumulator:
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]

def evaluate_accuracy(net, data_iter):
    metric = Accumulator(2)
    for X, y in data_iter:
        metric.add(accuracy(net(X), y), d2l.size(y))
    return metric[0] / metric[1]

class Updater():
    def __init__(self, params, lr):
        self.params = params
        self.lr = lr

    def __call__(self, batch_size, grads):
        d2l.sgd(self.params, grads, self.lr, batch_size)

updater = Updater([W, b], lr=0.1)
"""


SPECIAL = ["char device", "named pipe", "socket", "folder", "link to a char device"]


def make_special(path, kind: str):
    """A non-regular file at ``path``: a /dev/null-like character device, a named
    pipe, a socket, a folder, or a symbolic link to such a device."""
    if kind in ("char device", "link to a char device"):
        node = path if kind == "char device" else path.with_name(path.name + ".dev")
        try:  # the numbers of /dev/null: writing to it is harmless
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device needs root")
        if node != path:
            path.symlink_to(node)
    elif kind == "named pipe":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    else:
        path.mkdir()
    return path


_PEAK = """
import resource, sys
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {call}
except ValueError as err:
    print(err, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def peak_growth_kib(setup: str, call: str, *args) -> tuple[int, str]:
    """How much (KiB) the peak memory of a fresh Python process grows while it runs
    ``call`` (after ``setup``; ``sys.argv[1:]`` is ``args``), and its stderr, where
    the message of a ValueError goes."""
    script = _PEAK.format(setup=setup, call=call)
    out = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return int(out.stdout.split()[-1]), out.stderr


def one_error(stderr: str) -> str:
    """The one error line of a failed command (asserting there is exactly one)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("d2l-softmax: error: ")]
    assert len(lines) == 1, stderr
    return lines[0][len("d2l-softmax: error: ") :]
