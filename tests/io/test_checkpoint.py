"""Saving and loading a model file: bitwise round trips, atomic saves, plain refusals."""

import gc
import json
import sys

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax.io import checkpoint, files


def test_round_trip_gives_bitwise_equal_predictions(tmp_path):
    net = d2l.SoftmaxRegression(seed=3)
    net.b.assign(tf.range(10, dtype=tf.float32) / 7)
    path = checkpoint.save_params(tmp_path / "m.npz", net, lr=0.1, seed=3)
    loaded, settings = checkpoint.load_params(path)
    assert settings == {"lr": 0.1, "seed": 3}
    X = tf.random.stateless_uniform((20, 28, 28, 1), seed=[1, 1])
    np.testing.assert_array_equal(loaded(X).numpy(), net(X).numpy())


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    net = d2l.SoftmaxRegression(seed=1)
    path = checkpoint.save_params(tmp_path / "m.npz", net)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_params(path, d2l.SoftmaxRegression(seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def test_a_save_that_fills_the_disk_leaves_nothing_open(small_disk, monkeypatch):
    """The zip file is closed when a write fails: nothing is left for the garbage
    collector to trip over later (np.savez before numpy 2.2 printed a traceback then)."""
    leftovers = []
    monkeypatch.setattr(sys, "unraisablehook", leftovers.append)
    target = small_disk("16k") / "m.npz"  # the model takes 31 KB
    with pytest.raises(files.WriteError, match="No space left"):
        checkpoint.save_params(target, d2l.SoftmaxRegression(seed=0))
    gc.collect()
    assert [repr(u.exc_value) for u in leftovers] == []
    assert list(target.parent.iterdir()) == []


def test_the_file_is_the_npz_numpy_writes(tmp_path):
    net = d2l.SoftmaxRegression(seed=3)
    path = checkpoint.save_params(tmp_path / "m.npz", net, lr=0.1)
    with np.load(path) as saved:
        assert sorted(saved.files) == ["W", "b", "meta"]
        np.testing.assert_array_equal(saved["W"], net.W.numpy())
        np.testing.assert_array_equal(saved["b"], net.b.numpy())
        assert json.loads(str(saved["meta"]))["settings"] == {"lr": 0.1}


def test_missing_truncated_foreign_and_wrong_shape(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        checkpoint.load_params(tmp_path / "none.npz")
    good = checkpoint.save_params(tmp_path / "good.npz", d2l.SoftmaxRegression(seed=0))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match="cut.npz: not a readable d2l_softmax model"):
        checkpoint.load_params(cut)
    foreign = tmp_path / "foreign.npz"
    np.savez(
        foreign,
        W=np.zeros((784, 10), np.float32),
        b=np.zeros(10, np.float32),
        meta=np.array('{"format": "other"}'),
    )
    with pytest.raises(ValueError, match="foreign.npz: not a d2l_softmax model file"):
        checkpoint.load_params(foreign)
    small = checkpoint.save_params(tmp_path / "small.npz", d2l.SoftmaxRegression(100, 10, seed=0))
    with pytest.raises(ValueError, match=r"W of shape \(100, 10\), expected \(784, 10\)"):
        checkpoint.load_params(small, num_inputs=784, num_outputs=10)


def test_write_json_atomic(tmp_path):
    path = files.write_json(tmp_path / "h.json", {"a": [1, 2]})
    assert path.read_text() == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
