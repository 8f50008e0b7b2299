"""The book's own code runs with ``import d2l_softmax as d2l``: its aliases, its earlier
chapters' helpers, and the chapter's cells as the book writes them."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l

from helpers import CHAPTER_CELLS


def test_the_books_aliases():
    for name, fn in [
        ("tensor", tf.constant),
        ("exp", tf.exp),
        ("matmul", tf.matmul),
        ("reshape", tf.reshape),
        ("reduce_sum", tf.reduce_sum),
        ("argmax", tf.argmax),
        ("astype", tf.cast),
        ("normal", tf.random.normal),
        ("zeros", tf.zeros),
        ("ones", tf.ones),
        ("arange", tf.range),
        ("concat", tf.concat),
        ("stack", tf.stack),
        ("float32", tf.float32),
    ]:
        assert getattr(d2l, name) is fn, name
    x = d2l.tensor([[1, 2, 3], [4, 5, 6]])
    assert d2l.size(x) == 6 and isinstance(d2l.size(x), int)
    assert d2l.numpy(x).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert d2l.plt is plt
    assert {"tensor", "plt", "plot", "Timer"} <= set(dir(d2l))


def test_the_chapters_cells_run_as_written(small_dir, monkeypatch, tmp_path):
    """The cells, with ``d2l`` this package; then the chapter's net, loss and Updater
    trained by ``d2l.train_ch3``, the book's asserts included."""
    monkeypatch.setenv("FASHION_MNIST_DIR", str(small_dir))
    ns = {"d2l": d2l}
    exec(CHAPTER_CELLS, ns)
    assert [s.numpy().tolist() for s in ns["sums"]] == [[[5.0, 7.0, 9.0]], [[6.0], [15.0]]]
    assert ns["first_accuracy"] == 0.5
    train_iter, test_iter = d2l.load_data_fashion_mnist(32)
    before = ns["evaluate_accuracy"](ns["net"], test_iter)
    d2l.train_ch3(
        ns["net"],
        train_iter,
        test_iter,
        ns["cross_entropy"],
        3,
        ns["updater"],
        plot_path=tmp_path / "p.png",
    )
    after = ns["evaluate_accuracy"](ns["net"], test_iter)  # the book's own loop agrees
    assert after == pytest.approx(d2l.evaluate_accuracy(ns["net"], test_iter)) and after > before


def test_plot_draws_as_the_books():
    x = np.arange(0, 3, 0.5)
    d2l.plot(x, [x**2, 2 * x - 3], "x", "f(x)", legend=["f(x)", "tangent"])
    ax = plt.gca()
    assert [line.get_ydata().tolist() for line in ax.get_lines()] == [
        (x**2).tolist(),
        (2 * x - 3).tolist(),
    ]
    assert ax.get_xlabel() == "x" and [t.get_text() for t in ax.get_legend().get_texts()] == [
        "f(x)",
        "tangent",
    ]
    assert tuple(plt.rcParams["figure.figsize"]) == (3.5, 2.5)
    d2l.plot(tf.constant([3.0, 1.0, 2.0]), figsize=(5, 2.5))  # Y against its index, axes cleared
    assert [line.get_xdata().tolist() for line in ax.get_lines()] == [[0, 1, 2]]
    assert tuple(plt.rcParams["figure.figsize"]) == (5, 2.5)
    plt.close("all")
    plt.rcParams["figure.figsize"] = plt.rcParamsDefault["figure.figsize"]


def test_timer_records_times():
    timer = d2l.Timer()
    timer.times = [1.0, 2.0, 3.0]
    assert (timer.avg(), timer.sum(), timer.cumsum()) == (2.0, 6.0, [1.0, 3.0, 6.0])
    assert 0 <= timer.stop() < 10 and len(timer.times) == 4


def test_linear_regression_helpers():
    tf.random.set_seed(0)
    w, b = tf.constant([2.0, -3.4]), 4.2
    X, y = d2l.synthetic_data(w, b, 1000)
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    residual = y - d2l.linreg(X, tf.reshape(w, (-1, 1)), b)
    assert float(tf.math.reduce_std(residual)) == pytest.approx(0.01, rel=0.1)
    loss = d2l.squared_loss(tf.constant([[1.0], [3.0]]), tf.constant([2.0, 0.0]))
    assert loss.numpy().ravel().tolist() == [0.5, 4.5]
    batches = list(d2l.load_array((X[:25], y[:25]), 10, is_train=False))
    assert [int(Xb.shape[0]) for Xb, _ in batches] == [10, 10, 5]
    np.testing.assert_array_equal(batches[0][0], X[:10])


def test_the_model_selection_chapters_regression(tmp_path):
    """Model selection trains a linear regression through train_epoch_ch3 (float
    targets, Keras MSE, Keras SGD) and reads its loss with evaluate_loss; accuracy does
    not apply to float targets, so it is NaN, not a count of equal floats."""
    tf.random.set_seed(0)
    features = tf.random.normal((100, 4))
    labels = tf.reshape(d2l.linreg(features, tf.constant([[5.0], [1.2], [-3.4], [5.6]]), 0), (-1,))
    train_iter = d2l.load_array((features, labels), 10)
    net = tf.keras.Sequential([tf.keras.layers.Dense(1, use_bias=False)])
    loss = tf.keras.losses.MeanSquaredError()
    trainer = tf.keras.optimizers.SGD(learning_rate=0.05)
    first, acc = d2l.train_epoch_ch3(net, train_iter, loss, trainer)
    assert math.isnan(acc) and isinstance(first, float)
    for _ in range(30):
        d2l.train_epoch_ch3(net, train_iter, loss, trainer)
    squared = (tf.reshape(net(features), (-1,)) - labels) ** 2
    mse = float(tf.reduce_mean(squared))
    # the book's evaluate_loss: one number a batch (Keras' mean), averaged over the batches
    batch_means = [float(tf.reduce_mean(squared[i : i + 7])) for i in range(0, 100, 7)]
    assert d2l.evaluate_loss(
        net, d2l.load_array((features, labels), 7, False), loss
    ) == pytest.approx(sum(batch_means) / len(batch_means), rel=1e-5)
    assert mse < first / 100


def test_evaluate_loss_reads_one_number_a_batch_as_the_book_does():
    """sum(reduce_sum(l)) / sum(size(l)): a function's batch mean gives the mean of
    the batch means, its batch sum the mean of the batch sums."""
    X = tf.constant([[1.0], [2.0], [3.0]])
    y = tf.constant([1.0, 1.0, 1.0])
    data = [(X[:2], y[:2]), (X[2:], y[2:])]
    mean = d2l.evaluate_loss(
        lambda X: X, data, lambda y_hat, y: tf.reduce_mean(d2l.squared_loss(y_hat, y))
    )
    assert mean == pytest.approx(((0 + 0.5) / 2 + 2.0) / 2)
    total = d2l.evaluate_loss(
        lambda X: X, data, lambda y_hat, y: tf.reduce_sum(d2l.squared_loss(y_hat, y))
    )
    assert total == pytest.approx(((0 + 0.5) + 2.0) / 2)


def test_evaluate_loss_of_a_per_example_loss():
    X = tf.constant([[1.0], [2.0], [3.0]])
    y = tf.constant([1.0, 1.0, 1.0])
    data = [(X[:2], y[:2]), (X[2:], y[2:])]  # unequal batches: a mean per example
    mean = d2l.evaluate_loss(lambda X: X, data, d2l.squared_loss)
    assert mean == pytest.approx((0 + 0.5 + 2.0) / 3)
