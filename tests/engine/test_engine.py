"""The compiled engine: how each loop is compiled, retried, kept and chosen."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l
from d2l_softmax.engine import epoch as engine
from d2l_softmax.engine import program
from d2l_softmax.train import make_train_step

from helpers import CHAPTER_CELLS


def test_a_net_xla_cannot_compile_falls_back_to_a_graph(fresh):
    train_iter, _ = fresh()
    model = d2l.SoftmaxRegression(seed=0)

    def net(X):  # a string op: XLA has no kernel for it
        tf.strings.as_string(tf.reduce_sum(X))
        return model(X)

    updater = d2l.Updater(model.params, 0.1)
    with pytest.warns(UserWarning, match="XLA could not compile"):  # a run long enough for XLA
        engine.run_epoch(
            make_train_step(net, d2l.cross_entropy, updater),
            (net, d2l.cross_entropy, updater),
            train_iter,
            training=True,
            run_steps=program.XLA_MIN_STEPS,
        )
    with pytest.raises(tf.errors.OpError):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater, jit_compile=True)


def test_a_net_that_cannot_be_traced_is_traced_again_only_where_shapes_could_help(fresh):
    """Where the batch size was unknown to the trace (the fused loop, a tf.data loop), a
    failed trace is tried again with it known; the per-batch step's first trace knows
    it already, so there the error comes after one trace. (First, the net runs once
    eagerly, on one example or on the first batch, to find its number of classes.)"""
    train_iter, _ = fresh()
    model = d2l.SoftmaxRegression(seed=0)
    traced = []

    def net(X):
        traced.append(X.shape[0])
        return model(tf.constant(X.numpy()))  # .numpy() exists only eagerly

    for data, traces in (
        (train_iter, [1, None, 32]),
        (train_iter.take(3), [1, None, 32]),
        (list(train_iter.take(3)), [32, 32]),
    ):
        traced.clear()
        with pytest.raises(d2l.CompileError):
            d2l.train_epoch_ch3(
                net, data, d2l.cross_entropy, d2l.Updater(model.params, 0.1), jit_compile=False
            )
        assert traced == traces


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_net_that_needs_the_batch_size_trains_on_any_data(fresh, jit_compile):
    """``tf.reshape(X, (X.shape[0], -1))`` over a tf.data dataset and over a list of
    batches of two sizes (the short one last, as the loader cuts them): the same
    numbers as eagerly, so no batch is trained twice or skipped."""
    train_iter, _ = fresh()
    batches = [(X, y) for X, y in train_iter]
    assert len({X.shape[0] for X, _ in batches}) == 2
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=train_iter.element_spec
    )
    results = []
    for data, run_eagerly in ((batches, True), (batches, False), (dataset, False)):
        model = d2l.SoftmaxRegression(seed=0)

        def net(X):
            return d2l.softmax(tf.matmul(tf.reshape(X, (X.shape[0], -1)), model.W) + model.b)

        results.append(
            d2l.train_epoch_ch3(
                net,
                data,
                d2l.cross_entropy,
                d2l.Updater(model.params, 0.1),
                run_eagerly=run_eagerly,
                jit_compile=jit_compile,
            )
        )
    for got in results[1:]:
        assert got == pytest.approx(results[0], rel=1e-5)


def test_a_program_lives_for_one_train_ch3_call(fresh):
    """Within one train_ch3 call (programs_kept) the epochs share one program; outside
    it, each train_epoch_ch3 call compiles its own, so it reads the state of now."""
    train_iter, _ = fresh()
    model = d2l.SoftmaxRegression(seed=0)
    traced = []

    def net(X):
        traced.append(tf.executing_eagerly())  # False: a trace
        return model(X)

    updater = d2l.Updater(model.params, 0.1)
    with program.programs_kept():
        for _ in range(3):
            d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
    assert traced.count(False) == 1
    traced.clear()
    for _ in range(2):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
    assert traced.count(False) == 2
    traced.clear()
    d2l.train_ch3(
        net, train_iter, fresh()[1], d2l.cross_entropy, 3, updater, check=False, verbose=False
    )
    assert traced.count(False) == 2  # the training epoch's program and the evaluation's


def test_python_control_flow_on_tensors_is_converted(small_dir):
    """A net that branches on a tensor value in Python is traced with AutoGraph."""
    results = []
    for run_eagerly in (True, False):
        train_iter, _ = d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=5)
        model = d2l.SoftmaxRegression(seed=3)

        def branchy_net(X):
            Z = model.logits(X)
            if tf.reduce_max(tf.abs(Z)) > 5.0:  # a Python if on a tensor
                Z = Z / 2.0
            return d2l.softmax(Z)

        results.append(
            d2l.train_epoch_ch3(
                branchy_net,
                train_iter,
                d2l.cross_entropy,
                d2l.Updater(model.params, 0.5),
                run_eagerly=run_eagerly,
            )
        )
        results.append(model.W.numpy())
    assert results[0] == pytest.approx(results[2], rel=1e-5)
    np.testing.assert_allclose(results[3], results[1], atol=1e-6)


def test_xla_only_for_a_run_long_enough_to_pay_it_back():
    assert program.use_xla(None, None) is False  # unknown length: a plain graph
    assert program.use_xla(None, program.XLA_MIN_STEPS - 1) is False
    assert program.use_xla(None, program.XLA_MIN_STEPS) is None  # XLA, may fall back
    assert program.use_xla(True, 1) is True and program.use_xla(False, 10**9) is False


def test_steps_per_epoch_when_known_without_iterating(fresh):
    train_iter, _ = fresh(batch_size=32)
    assert engine.steps_per_epoch(train_iter) == 10  # 300 examples: ceil(300 / 32)
    assert engine.steps_per_epoch(list(train_iter)) == 10
    assert engine.steps_per_epoch(b for b in train_iter) is None


@pytest.mark.parametrize("split", ["train", "test"])
def test_first_batch_is_the_batch_iterating_gives(fresh, split):
    """The loader's datasets give their first batch from the arrays: the batch iterating
    gives (a full one: the short batch comes last), and the pass after it is the one
    iterating would give next."""
    pick = 0 if split == "train" else 1
    by_hand, ours = fresh(batch_size=32)[pick], fresh(batch_size=32)[pick]
    expected = [next(iter(by_hand)) for _ in range(2)]  # two passes' first batches
    got = [engine.first_batch(ours), next(iter(ours))]
    assert int(got[0][1].shape[0]) == 32  # 300 = 9 x 32 + 12
    for (X, y), (eX, ey) in zip(got, expected):
        np.testing.assert_array_equal(X.numpy(), eX.numpy())
        np.testing.assert_array_equal(y.numpy(), ey.numpy())


def test_first_batch_of_any_iterable(fresh):
    batches = list(fresh(batch_size=32)[1])
    X, y = engine.first_batch(batches)
    assert X is batches[0][0] and y is batches[0][1]
    assert engine.first_batch(b for b in batches[1:]) is not None
    assert engine.first_batch([]) is None


def test_a_re_run_cell_is_never_answered_by_a_stale_program(fresh):
    """The chapter's code in a notebook: re-running the cell that makes W and b (the
    net reads them by name), or setting the book's Updater's lr (a Python float),
    takes effect, as it does in the book's eager loop."""
    ns = {"d2l": d2l}
    exec(CHAPTER_CELLS, ns)
    net, loss, updater = ns["net"], ns["cross_entropy"], ns["updater"]
    train_iter, test_iter = fresh()
    d2l.train_epoch_ch3(net, train_iter, loss, updater)
    assert d2l.evaluate_accuracy(net, test_iter) > 0.5
    exec("W = tf.Variable(tf.zeros((784, 10))); b = tf.Variable(tf.zeros(10))", ns)
    eager = d2l.evaluate_accuracy(net, test_iter, run_eagerly=True)  # all scores equal: class 0
    assert eager < 0.3 and d2l.evaluate_accuracy(net, test_iter) == eager
    ns["updater"] = updater = ns["Updater"]([ns["W"], ns["b"]], lr=0.1)
    d2l.train_epoch_ch3(net, train_iter, loss, updater)
    assert float(tf.reduce_max(tf.abs(ns["W"]))) > 0  # the new W trained
    updater.lr = 0.0
    before = ns["W"].numpy()
    d2l.train_epoch_ch3(net, train_iter, loss, updater)
    assert (ns["W"].numpy() == before).all()  # lr 0: nothing moves


def test_a_number_in_a_large_dict_is_read_anew_each_call(fresh):
    """A large dict holds the weight decay: within one train_ch3 run the program is
    kept; a later call makes it anew, so a changed number is never stale."""
    train_iter, _ = fresh()
    batches = [(X, y) for X, y in train_iter]
    model = d2l.SoftmaxRegression(seed=0)
    hp = {f"unused{i}": 0.0 for i in range(100)}
    hp["wd"] = 0.0

    def loss(y_hat, y):
        return d2l.cross_entropy(y_hat, y) + hp["wd"]

    updater = d2l.Updater(model.params, 1e-12)
    for wd in (0.0, 1.0, 0.0):
        hp["wd"] = wd
        compiled = d2l.train_epoch_ch3(model, batches, loss, updater)
        eager = d2l.train_epoch_ch3(model, batches, loss, updater, run_eagerly=True)
        assert compiled == pytest.approx(eager, rel=1e-5)
    traces = itertools.count()  # (a list of traces would be state of its own)

    def counting(y_hat, y):
        next(traces)
        return loss(y_hat, y)

    with program.programs_kept():
        for _ in range(3):
            d2l.train_epoch_ch3(model, batches, counting, updater)
    assert next(traces) == 2  # one trace a batch shape, reused across the run's epochs
