"""Shared fixtures: small IDX files written by the tests, and the real data when present."""

import atexit
import gzip
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from d2l_softmax.io import fashion_mnist  # noqa: E402

SMALL_TRAIN, SMALL_TEST = 300, 100


@pytest.fixture(scope="session", autouse=True)
def _temporary_folder_of_the_session(tmp_path_factory):
    """What the package writes to the temporary folder by design (the Animator's default
    plot path) goes to pytest's folder for this session, not /tmp; subprocesses too."""
    folder = str(tmp_path_factory.mktemp("tmp"))
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    yield
    if saved[0] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved[0]
    tempfile.tempdir = saved[1]


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


@pytest.fixture
def small_counts(monkeypatch):
    """Let the loader accept the small files (the real counts are 60,000 / 10,000)."""
    monkeypatch.setitem(
        fashion_mnist.SPLITS,
        "train",
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", SMALL_TRAIN),
    )
    monkeypatch.setitem(
        fashion_mnist.SPLITS,
        "test",
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", SMALL_TEST),
    )
    fashion_mnist._read_split_cached.cache_clear()
    yield
    fashion_mnist._read_split_cached.cache_clear()


@pytest.fixture
def small_dir(tmp_path, small_counts):
    """A folder with the four files: training files gzipped, test files raw."""
    rng = np.random.default_rng(0)
    for split, n, gz in (("train", SMALL_TRAIN, True), ("test", SMALL_TEST, False)):
        images, labels = make_split(n, rng)
        images_name, labels_name, _ = fashion_mnist.SPLITS[split]
        write_idx(tmp_path / images_name, images, gz)
        write_idx(tmp_path / labels_name, labels, gz)
    return tmp_path


def real_data_dir():
    try:
        return fashion_mnist.find_fashion_mnist(download=False)
    except fashion_mnist.DataNotFoundError:
        return None


@pytest.fixture(scope="session")
def real_dir():
    folder = real_data_dir()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install the real data (apt-get install dataset-fashion-mnist)")
        pytest.skip("real Fashion-MNIST is not installed")
    return folder


@pytest.fixture
def sigint_raises():
    """SIGINT raises KeyboardInterrupt in this test, as in an interactive Python.

    pytest started from a background job (``pytest &``, some CI runners) inherits
    SIGINT as ignored, and the package keeps an ignored signal ignored: a test that
    sends itself SIGINT must install the usual handler itself.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def small_disk(tmp_path):
    """``mount(size)`` -> a new folder on a tmpfs of that size: a disk that fills up.

    Mounting needs root (CAP_SYS_ADMIN); where it is not permitted the test is skipped.
    """
    mounted = []

    def mount(size: str = "64k") -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
                capture_output=True,
                text=True,
            )
        except OSError as err:
            pytest.skip(f"cannot mount a tmpfs here: {err}")
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def fresh(small_dir):
    """A fresh loader of the small files with a fixed seed: each call draws the same
    sequence of passes."""
    import d2l_softmax as d2l

    return lambda batch_size=32: d2l.load_data_fashion_mnist(batch_size, data_dir=small_dir, seed=5)


# ---------------------------------------------------------------- helpers for several modules

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


_SMALL_CLI = """
import sys
from d2l_softmax import data
data.SPLITS.update({splits!r})
from d2l_softmax.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def small_cli(*args, prefix=(), **popen):
    """``d2l-softmax ARGS`` as a separate process that accepts the small data files."""
    script = _SMALL_CLI.format(splits=dict(fashion_mnist.SPLITS))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    return subprocess.Popen(
        [*prefix, sys.executable, "-c", script, *map(str, args)], text=True, env=env, **popen
    )
