"""Shared fixtures: small IDX files written by the tests, and the real data when present."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from d2l_softmax.io import fashion_mnist  # noqa: E402

from helpers import SMALL_TEST, SMALL_TRAIN, make_split, write_idx  # noqa: E402


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


@pytest.fixture
def small_iters(small_dir):
    """The loader's datasets of the small files, batches of 32, seed 0."""
    import d2l_softmax as d2l

    return d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=0)


# small_cli stays here: tests import it from conftest, one of them inside its body

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
