import gzip

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax import data
from conftest import SMALL_TEST, SMALL_TRAIN, idx_bytes, make_split, write_idx


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        path = write_idx(tmp_path / f"x{gz}", array, gz)
        np.testing.assert_array_equal(d2l.read_idx(path, 3), array)


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: raw[:10], "truncated IDX file"),
    (lambda raw: raw[:-5], "truncated IDX file"),
    (lambda raw: raw + b"xx", "too long"),
    (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "bad IDX magic"),
    (lambda raw: b"\x00\x00\x08\x01" + raw[4:], "bad IDX magic"),
])
def test_read_idx_rejects_bad_files_naming_them(tmp_path, mutate, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    with pytest.raises(ValueError, match=message) as err:
        d2l.read_idx(path, 3)
    assert str(path) in str(err.value)


def test_truncated_and_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "junk.gz").write_bytes(good[:10] + b"\xff" * 50 + good[60:])
    for name in ("cut.gz", "junk.gz"):
        with pytest.raises(ValueError, match="corrupt or truncated gzip") as err:
            d2l.read_idx(tmp_path / name, 3)
        assert name in str(err.value)


def test_load_small_files(small_dir):
    train_iter, test_iter = d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=1)
    sizes = [int(y.shape[0]) for _, y in train_iter]
    assert sizes == [SMALL_TRAIN % 32] + [32] * (SMALL_TRAIN // 32)  # the short batch first
    X, y = list(train_iter)[1]
    assert X.shape == (32, 28, 28, 1) and X.dtype == tf.float32
    assert y.shape == (32,) and y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(X)) and float(tf.reduce_max(X)) <= 1.0
    # the test set keeps its order and its last batch is partial
    images, labels = d2l.read_fashion_mnist(small_dir, "test")
    batches = list(test_iter)
    assert [int(b[1].shape[0]) for b in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)
    np.testing.assert_allclose(batches[0][0][..., 0], images[:32] / 255.0, atol=1e-7)
    assert int(train_iter.cardinality()) == -(-SMALL_TRAIN // 32)


def test_training_set_reshuffles_examples_every_pass(small_dir):
    train_iter, _ = d2l.load_data_fashion_mnist(50, data_dir=small_dir, seed=3)
    images, labels = d2l.read_fashion_mnist(small_dir, "train")

    def one_pass():
        return [tuple(np.round(X.numpy()[:, 10, :, 0].sum(axis=1), 4)) for X, _ in train_iter]

    first, second = one_pass(), one_pass()
    assert sum(len(b) for b in first) == SMALL_TRAIN
    # every example exactly once per pass
    assert sorted(v for b in first for v in b) == sorted(v for b in second for v in b)
    # batches are made of different examples each pass, not the same batches reordered
    assert set(map(frozenset, first)) != set(map(frozenset, second))
    # the same seed gives the same sequence
    again, _ = d2l.load_data_fashion_mnist(50, data_dir=small_dir, seed=3)
    assert [tuple(np.round(X.numpy()[:, 10, :, 0].sum(axis=1), 4)) for X, _ in again] == first


def test_resize_pads_like_the_book(small_dir):
    _, test_iter = d2l.load_data_fashion_mnist(10, resize=64, data_dir=small_dir)
    X, _ = next(iter(test_iter))
    assert X.shape == (10, 64, 64, 1)
    images, _ = d2l.read_fashion_mnist(small_dir, "test")
    expected = tf.image.resize_with_pad(images[:10, :, :, None] / 255.0, 64, 64)
    np.testing.assert_allclose(X, expected, atol=1e-6)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "8", True])
def test_bad_batch_size(small_dir, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(batch_size, data_dir=small_dir)


@pytest.mark.parametrize("resize", [0, -3, 1.5, 1025, 10000])
def test_bad_resize(small_dir, resize):
    with pytest.raises(ValueError, match="resize"):
        d2l.load_data_fashion_mnist(8, resize=resize, data_dir=small_dir)


def test_labels_out_of_range_name_the_file(tmp_path, small_counts):
    rng = np.random.default_rng(0)
    for split, n in (("train", SMALL_TRAIN), ("test", SMALL_TEST)):
        images, labels = make_split(n, rng)
        if split == "test":
            labels[7] = 12
        images_name, labels_name, _ = data.SPLITS[split]
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
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(data, "DEBIAN_DIR", empty)
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
    monkeypatch.setattr(data, "DEBIAN_DIR", small_dir)
    assert d2l.find_fashion_mnist(download=False) == small_dir
    # the environment variable before both, an explicit folder before everything
    monkeypatch.setenv(data.ENV_VAR, str(cache))
    assert d2l.find_fashion_mnist() == cache
    assert d2l.find_fashion_mnist(small_dir) == small_dir


def test_explicit_folder_without_files_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(d2l.DataNotFoundError, match="does not hold the four"):
        d2l.load_data_fashion_mnist(8, data_dir=tmp_path)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(d2l.DataNotFoundError, match=f"{data.ENV_VAR}={tmp_path}"):
        d2l.find_fashion_mnist()


def test_download_is_the_last_resort(tmp_path, small_dir, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "none")
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
