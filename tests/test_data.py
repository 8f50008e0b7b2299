import gzip

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l

from helpers import SMALL_TRAIN, idx_bytes, write_idx


def test_read_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        path = write_idx(tmp_path / f"x{gz}", array, gz)
        np.testing.assert_array_equal(d2l.read_idx(path, 3), array)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: raw[:10], "truncated IDX file"),
        (lambda raw: raw[:-5], "truncated IDX file"),
        (lambda raw: raw + b"xx", "too long"),
        (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "bad IDX magic"),
        (lambda raw: b"\x00\x00\x08\x01" + raw[4:], "bad IDX magic"),
    ],
)
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
    assert sizes == [32] * (SMALL_TRAIN // 32) + [SMALL_TRAIN % 32]  # the short batch last
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


def test_the_shared_arrays_are_read_only(small_dir):
    """read_fashion_mnist gives every caller the same arrays: a caller cannot change
    what the next one, or the loader, reads (``labels[:] = 0`` changed them silently)."""
    images, labels = d2l.read_fashion_mnist(small_dir, "train")
    first = labels.copy()
    for array in (images, labels):
        with pytest.raises(ValueError, match="read-only"):
            array[:] = 0
    mine = labels.copy()  # an array of one's own to change
    mine[:] = 0
    again = d2l.read_fashion_mnist(small_dir, "train")[1]
    np.testing.assert_array_equal(again, first)
    train_iter, _ = d2l.load_data_fashion_mnist(SMALL_TRAIN, data_dir=small_dir, seed=1)
    assert sorted(next(iter(train_iter))[1].numpy()) == sorted(first)


def test_a_dropped_dataset_frees_its_arrays(small_dir):
    """Nothing global keeps a loaded dataset's arrays: a notebook cell that loads the
    data, run again and again, does not add 55 MiB a run (a ``tf.py_function`` in the
    pipeline kept them for good)."""
    import gc
    import weakref

    from d2l_softmax.engine.source import array_source

    for resize in (None, 32):
        train_iter, test_iter = d2l.load_data_fashion_mnist(
            32, data_dir=small_dir, seed=1, resize=resize
        )
        for _ in train_iter:  # a pass drawn and read
            pass
        images = [weakref.ref(ds._variant_tensor) for ds in (train_iter, test_iter)]
        sources = [
            weakref.ref(array_source(ds))
            for ds in (train_iter, test_iter)
            if array_source(ds) is not None
        ]
        del train_iter, test_iter
        gc.collect()
        assert [ref() for ref in sources + images] == [None] * len(sources + images)


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
