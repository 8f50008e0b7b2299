"""The loops: every one gives the sums the plain Python loop gives, over every batch
size, and stops where the loss stops being finite."""

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax.engine import epoch as engine
from d2l_softmax.engine.source import array_source
from d2l_softmax.train import make_eval_step, make_train_step


def _train_sums(data, run_eagerly=False, jit_compile=None, seed=0):
    net = d2l.SoftmaxRegression(seed=seed)
    updater = d2l.Updater(net.params, 0.1)
    step = make_train_step(net, d2l.cross_entropy, updater)
    sums = engine.run_epoch(
        step,
        (net, d2l.cross_entropy, updater),
        data,
        training=True,
        run_eagerly=run_eagerly,
        jit_compile=jit_compile,
    )
    return sums, net.W.numpy()


@pytest.mark.parametrize("split", [0, 1], ids=["train: reshuffled", "test: in order"])
@pytest.mark.parametrize("jit_compile", [None, False, True])
def test_every_loop_matches_the_python_loop(fresh, jit_compile, split):
    """The fused loop, the tf.data loop and the per-step loop over the same batches
    in the same order do what ``for X, y in data: step(X, y)`` does, on either split
    (the short batch last: 300 = 9 x 32 + 12, 100 = 3 x 32 + 4)."""
    sizes = [int(y.shape[0]) for _, y in fresh()[split]]
    assert sizes == ([32] * 9 + [12] if split == 0 else [32] * 3 + [4])
    eager_sums, eager_W = _train_sums(fresh()[split], run_eagerly=True)
    fused = fresh()[split]
    assert array_source(fused) is not None
    other = fresh()[split].map(lambda X, y: (X, y))  # not ours any more: the tf.data loop
    assert array_source(other) is None
    listed = list(fresh()[split])  # a Python list: one compiled step a batch
    for data in (fused, other, listed):
        sums, W = _train_sums(data, jit_compile=jit_compile)
        np.testing.assert_allclose(sums, eager_sums, rtol=1e-5)
        np.testing.assert_allclose(W, eager_W, atol=1e-6)


def test_a_batch_larger_than_the_data_set_is_one_batch(fresh):
    train_iter, test_iter = fresh(batch_size=1000)
    assert [int(y.shape[0]) for _, y in train_iter] == [300]
    sums, _ = _train_sums(train_iter)
    assert sums[2] == 300
    net = d2l.SoftmaxRegression(seed=0)
    correct, count = engine.run_epoch(make_eval_step(net), (net,), test_iter, training=False)
    assert count == 100


def test_a_diverging_loss_stops_the_epoch_at_its_batch(fresh):
    train_iter, _ = fresh()
    net = d2l.SoftmaxRegression(seed=0)

    def loss(y_hat, y):  # NaN from the fourth step on
        calls.assign_add(1)
        return d2l.cross_entropy(y_hat, y) * tf.where(calls > 3, np.nan, 1.0)

    calls = tf.Variable(0)
    updater = d2l.Updater(net.params, 0.1)
    with pytest.raises(d2l.TrainingDivergedError, match="batch 4"):
        engine.run_epoch(
            make_train_step(net, loss, updater), (net, loss, updater), train_iter, training=True
        )
    assert int(calls) == 4  # the loop stopped there


def test_a_plain_graph_traces_the_step_once_for_every_batch_size(fresh):
    """300 examples in batches of 32: full ones, then a short batch of 12. The graph
    holds one copy of the net for both sizes; XLA, which must know shapes, two. (The
    first call, eagerly on one example, finds the net's number of classes.)"""
    for jit_compile, copies in ((False, 1), (True, 2)):
        train_iter, _ = fresh()
        model = d2l.SoftmaxRegression(seed=0)
        traced = []

        def net(X):
            traced.append(X.shape[0])  # runs when the net is traced, not when it runs
            return model(X)

        updater = d2l.Updater(model.params, 0.1)
        sums = engine.run_epoch(
            make_train_step(net, d2l.cross_entropy, updater),
            (net, d2l.cross_entropy, updater),
            train_iter,
            training=True,
            jit_compile=jit_compile,
        )
        assert sums[2] == 300 and len(traced) == 1 + copies
        assert traced == [1] + ([None] if copies == 1 else [32, 12])


def test_a_net_that_needs_the_batch_size_as_a_number_still_trains(fresh):
    """``tf.reshape(X, (X.shape[0], -1))`` works eagerly (shapes are known there); the
    plain graph then traces the step again with the batch size known."""
    results = []
    for run_eagerly in (True, False):
        train_iter, _ = fresh()
        model = d2l.SoftmaxRegression(seed=0)

        def net(X):
            return model(tf.reshape(X, (X.shape[0], -1)))

        results.append(
            d2l.train_epoch_ch3(
                net,
                train_iter,
                d2l.cross_entropy,
                d2l.Updater(model.params, 0.1),
                run_eagerly=run_eagerly,
                jit_compile=False,
            )
        )
        results.append(model.W.numpy())
    assert results[0] == pytest.approx(results[2], rel=1e-5)
    np.testing.assert_allclose(results[3], results[1], atol=1e-6)
