"""Finding the Fashion-MNIST files, reading them checked, and the class names."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax.io import fashion_mnist

from helpers import SMALL_TEST, SMALL_TRAIN, make_split, write_idx


def test_finding_and_reading_the_files_needs_no_tensorflow(small_dir):
    """The files are read with NumPy alone; TensorFlow is imported only to download."""
    code = (
        "import sys; from d2l_softmax.io import fashion_mnist as fm; "
        f"fm.SPLITS['test'] = fm.SPLITS['test'][:2] + ({SMALL_TEST},); "
        f"images, labels = fm.read_fashion_mnist(fm.find_fashion_mnist({str(small_dir)!r}, "
        "download=False), 'test'); "
        "print(images.shape, labels.dtype, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["(100,", "28,", "28)", "uint8", "False"]


def test_labels_out_of_range_name_the_file(tmp_path, small_counts):
    rng = np.random.default_rng(0)
    for split, n in (("train", SMALL_TRAIN), ("test", SMALL_TEST)):
        images, labels = make_split(n, rng)
        if split == "test":
            labels[7] = 12
        images_name, labels_name, _ = fashion_mnist.SPLITS[split]
        write_idx(tmp_path / images_name, images, False)
        write_idx(tmp_path / labels_name, labels, True)
    with pytest.raises(ValueError, match=r"label 12 at index 7 is out of range") as err:
        d2l.load_data_fashion_mnist(8, data_dir=tmp_path)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)


def test_count_and_shape_mismatches(tmp_path, small_counts):
    rng = np.random.default_rng(0)
    images, labels = make_split(SMALL_TRAIN, rng)
    write_idx(tmp_path / "train-images-idx3-ubyte", images, False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:-1], False)
    with pytest.raises(ValueError, match=f"{SMALL_TRAIN - 1} labels, expected {SMALL_TRAIN}"):
        d2l.read_fashion_mnist(tmp_path, "train")
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, False)
    write_idx(tmp_path / "train-images-idx3-ubyte", images[:, :27, :], False)
    with pytest.raises(ValueError, match="27x28, Fashion-MNIST's are 28x28"):
        d2l.read_fashion_mnist(tmp_path, "train")


def test_lookup_order(tmp_path, small_dir, monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", empty)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    # nothing anywhere and no download: one error saying where it looked and how to get it
    with pytest.raises(d2l.DataNotFoundError) as err:
        d2l.find_fashion_mnist(download=False)
    message = str(err.value)
    assert str(empty) in message and str(tmp_path / "keras") in message
    assert "apt-get install dataset-fashion-mnist" in message and "FASHION_MNIST_DIR" in message
    assert "load_data()" in message
    # the Keras cache
    cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for f in small_dir.glob("*-ubyte*"):
        (cache / f.name).write_bytes(f.read_bytes())
    assert d2l.find_fashion_mnist(download=False) == cache
    # the Debian folder comes before the cache
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", small_dir)
    assert d2l.find_fashion_mnist(download=False) == small_dir
    # the environment variable before both, an explicit folder before everything
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(cache))
    assert d2l.find_fashion_mnist() == cache
    assert d2l.find_fashion_mnist(small_dir) == small_dir


def test_explicit_folder_without_files_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(d2l.DataNotFoundError, match="does not hold the four"):
        d2l.load_data_fashion_mnist(8, data_dir=tmp_path)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    with pytest.raises(d2l.DataNotFoundError, match=f"{fashion_mnist.ENV_VAR}={tmp_path}"):
        d2l.find_fashion_mnist()


def test_download_is_the_last_resort(tmp_path, small_dir, monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    calls = []

    def fake_download():
        calls.append(1)
        raise OSError("no network")

    monkeypatch.setattr(tf.keras.datasets.fashion_mnist, "load_data", fake_download)
    with pytest.raises(d2l.DataNotFoundError, match="downloading failed .*no network"):
        d2l.find_fashion_mnist()
    assert calls == [1]

    def fake_success():
        cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
        cache.mkdir(parents=True)
        for f in small_dir.glob("*-ubyte*"):
            (cache / f.name).write_bytes(f.read_bytes())

    monkeypatch.setattr(tf.keras.datasets.fashion_mnist, "load_data", fake_success)
    assert d2l.find_fashion_mnist() == tmp_path / "keras" / "datasets" / "fashion-mnist"


def test_text_labels():
    assert d2l.get_fashion_mnist_labels([0, 9, 3]) == ["t-shirt", "ankle boot", "dress"]
    assert d2l.get_fashion_mnist_labels(tf.constant([[1], [2]])) == ["trouser", "pullover"]
