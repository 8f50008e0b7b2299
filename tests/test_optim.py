import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


def test_sgd_hand_computed():
    w = tf.Variable([1.0, 2.0])
    d2l.sgd([w], [tf.constant([4.0, -8.0])], lr=0.5, batch_size=4)
    np.testing.assert_allclose(w, [0.5, 3.0])


def test_updater_is_the_books():
    w = tf.Variable([1.0])
    updater = d2l.Updater([w], lr=0.1)
    updater(2, [tf.constant([10.0])])
    np.testing.assert_allclose(w, [0.5])
    assert updater.params == [w] and updater.lr == 0.1  # the number set, as in the book
    updater.lr = 0.3
    assert updater.lr == 0.3 and float(updater._lr) == np.float32(0.3)
    updater.lr = 0  # the book's Updater takes 0 too: no update
    updater(2, [tf.constant([10.0])])
    np.testing.assert_allclose(w, [0.5])


@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf"), "fast", None])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="^learning rate must be a finite number >= 0, got"):
        d2l.Updater([tf.Variable(1.0)], lr)
    with pytest.raises(ValueError, match="^learning rate must be a finite number >= 0, got"):
        d2l.AnalyticUpdater(d2l.SoftmaxRegression(seed=0), lr)


def test_analytic_update_equals_tape_update():
    X = tf.random.stateless_uniform((32, 28, 28, 1), seed=[3, 1])
    y = tf.random.stateless_uniform((32,), seed=[3, 2], maxval=10, dtype=tf.int32)
    a, b = d2l.SoftmaxRegression(seed=5), d2l.SoftmaxRegression(seed=5)
    # the chapter's update: W <- W - lr * X^T (A - Y) / B, via the tape
    with tf.GradientTape() as tape:
        l = d2l.cross_entropy(a(X), y)
    d2l.Updater(a.params, 0.1)(32, tape.gradient(l, a.params))
    Z, losses = d2l.AnalyticUpdater(b, 0.1).train_step(X, y)
    np.testing.assert_allclose(b.W, a.W, atol=1e-7)
    np.testing.assert_allclose(b.b, a.b, atol=1e-7)
    np.testing.assert_allclose(losses, l, rtol=1e-5)
    # the same as W + lr * x (y - a)^T averaged over the batch
    W0 = d2l.SoftmaxRegression(seed=5).W
    A = d2l.softmax(tf.reshape(X, (32, 784)) @ W0)
    expected = W0 + 0.1 * tf.transpose(tf.reshape(X, (32, 784))) @ (tf.one_hot(y, 10) - A) / 32
    np.testing.assert_allclose(b.W, expected, atol=1e-7)


def test_analytic_updater_needs_softmax_regression():
    with pytest.raises(TypeError, match="needs a SoftmaxRegression"):
        d2l.AnalyticUpdater(lambda X: X, 0.1)

    class Tempered(d2l.SoftmaxRegression):  # its own model: the hand gradient is not its
        def __call__(self, X):
            return d2l.softmax(self.logits(X) / 4)

    with pytest.raises(TypeError, match="Tempered changes __call__: train it with Updater"):
        d2l.AnalyticUpdater(Tempered(seed=0), 0.1)
    patched = d2l.SoftmaxRegression(seed=0)
    patched.logits = lambda X: tf.zeros((X.shape[0], 10))
    with pytest.raises(TypeError, match="changes logits"):
        d2l.AnalyticUpdater(patched, 0.1)


def test_analytic_updater_trains_only_its_model_with_cross_entropy():
    """It computes cross-entropy's gradient for its own model: another loss, another
    net, or a logits patched in later would be trained as something they are not."""
    net = d2l.SoftmaxRegression(seed=0)
    updater = d2l.AnalyticUpdater(net, 0.1)
    X, y = tf.zeros((4, 28, 28, 1)), tf.constant([0, 1, 2, 3])
    data = [(X, y)]

    class Smoothed(type(d2l.cross_entropy)):
        def __call__(self, y_hat, y):
            return 0.9 * super().__call__(y_hat, y) - 0.01 * tf.reduce_sum(tf.math.log(y_hat), 1)

    others = [
        (net, Smoothed()),
        (net, tf.keras.losses.SparseCategoricalCrossentropy()),
        (d2l.SoftmaxRegression(seed=1), d2l.cross_entropy),
    ]
    for other_net, loss in others:
        with pytest.raises(TypeError, match="computes the gradient of its own"):
            d2l.train_epoch_ch3(other_net, data, loss, updater)
    net.logits = lambda X: tf.zeros((X.shape[0], 10))
    with pytest.raises(TypeError, match="computes the gradient of its own"):
        d2l.train_epoch_ch3(net, data, d2l.cross_entropy, updater)


def test_cosine_schedule():
    schedule = d2l.cosine_schedule(0.2, 10, final_lr=0.0)
    assert schedule(1) == pytest.approx(0.2)
    assert schedule(6) == pytest.approx(0.1)
    assert schedule(11) == pytest.approx(0.0)
