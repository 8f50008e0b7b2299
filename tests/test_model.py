import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import d2l_softmax as d2l


def test_softmax_hand_computed():
    X = tf.constant([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(d2l.softmax(X), [e / e.sum(), [1 / 3] * 3], rtol=1e-6)


def test_naive_softmax_overflows_and_stable_does_not():
    X = tf.constant([[1000.0, 0.0]])
    assert np.isnan(d2l.softmax_naive(X).numpy()[0, 0])
    np.testing.assert_allclose(d2l.softmax(X), [[1.0, 0.0]])
    np.testing.assert_allclose(
        d2l.softmax(tf.constant([[-1000.0, -1001.0]])),
        [[1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))]],
        rtol=1e-6,
    )


def test_cross_entropy_book_example():
    y = tf.constant([0, 2])
    y_hat = tf.constant([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    np.testing.assert_allclose(d2l.cross_entropy(y_hat, y), [2.3026, 0.6931], atol=1e-4)


def test_cross_entropy_finite_at_zero_probability():
    l = d2l.cross_entropy(tf.constant([[0.0, 1.0]]), tf.constant([0]))
    assert np.isfinite(l.numpy()).all() and l.numpy()[0] > 80


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0]])
def test_cross_entropy_rejects_labels_out_of_range(bad):
    y_hat = tf.constant([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    with pytest.raises(
        ValueError, match=f"label {[b for b in bad if b not in (0,)][0]} is out of range"
    ):
        d2l.cross_entropy(y_hat, tf.constant(bad))
    with pytest.raises(ValueError, match="out of range"):
        d2l.cross_entropy.from_logits(y_hat, tf.constant(bad))


def test_cross_entropy_rejects_float_labels_and_bad_shapes():
    with pytest.raises(ValueError, match="labels must be integers"):
        d2l.cross_entropy(tf.constant([[0.5, 0.5]]), tf.constant([0.0]))
    with pytest.raises(ValueError, match=r"y_hat must be \(batch, classes\)"):
        d2l.cross_entropy(tf.constant([0.5, 0.5]), tf.constant([0]))


def test_from_logits_matches_book_form():
    Z = tf.random.stateless_normal((8, 10), seed=[1, 2]) * 3
    y = tf.constant([0, 1, 2, 3, 4, 5, 6, 9])
    np.testing.assert_allclose(
        d2l.cross_entropy.from_logits(Z, y), d2l.cross_entropy(d2l.softmax(Z), y), rtol=1e-5
    )


def test_model_init_and_shapes():
    net = d2l.SoftmaxRegression(seed=7)
    assert net.W.shape == (784, 10) and net.b.shape == (10,)
    assert float(tf.reduce_max(tf.abs(net.b))) == 0.0
    assert abs(float(tf.math.reduce_std(net.W)) - 0.01) < 0.0005
    assert abs(float(tf.reduce_mean(net.W))) < 0.001
    np.testing.assert_array_equal(net.W, d2l.SoftmaxRegression(seed=7).W)
    assert not np.array_equal(net.W, d2l.SoftmaxRegression(seed=8).W)
    assert [v.name for v in net.trainable_variables] == ["W:0", "b:0"]
    X = tf.random.stateless_uniform((5, 28, 28, 1), seed=[0, 1])
    A = net(X)
    assert A.shape == (5, 10)
    np.testing.assert_allclose(tf.reduce_sum(A, 1), np.ones(5), rtol=1e-6)
    np.testing.assert_allclose(A, d2l.softmax(tf.reshape(X, (5, 784)) @ net.W + net.b), rtol=1e-6)


def test_model_rejects_wrong_image_shape():
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(ValueError, match=r"784 values each .* got shape \(2, 32, 32, 1\)"):
        net(tf.zeros((2, 32, 32, 1)))


def test_module_level_net_is_the_book_net():
    X = tf.zeros((3, 28, 28, 1))
    model = d2l.default_model()
    np.testing.assert_allclose(d2l.net(X), model(X))
    assert model is d2l.default_model()


def _batch(seed=0, B=16):
    X = tf.random.stateless_uniform((B, 784), seed=[seed, 1])
    W = tf.random.stateless_normal((784, 10), seed=[seed, 2], stddev=0.05)
    b = tf.random.stateless_normal((10,), seed=[seed, 3])
    y = tf.random.stateless_uniform((B,), seed=[seed, 4], maxval=10, dtype=tf.int32)
    return X, W, b, y


def test_analytic_gradient_matches_the_tape():
    X, W, b, y = _batch()
    W, b = tf.Variable(W), tf.Variable(b)
    with tf.GradientTape() as tape:
        l = tf.reduce_sum(d2l.cross_entropy(d2l.softmax(X @ W + b), y))
    dW_tape, db_tape = tape.gradient(l, [W, b])
    dW, db = d2l.softmax_regression_grad(X, d2l.softmax(X @ W + b), y)
    np.testing.assert_allclose(dW, dW_tape, atol=1e-5)
    np.testing.assert_allclose(db, db_tape, atol=1e-5)


def test_analytic_gradient_matches_finite_differences():
    X, W, b, y = _batch(seed=1, B=4)
    X, W, b = (tf.cast(t, tf.float64) for t in (X, W, b))

    def J(W, b):
        return float(tf.reduce_sum(d2l.cross_entropy.from_logits(X @ W + b, y)))

    dW, db = d2l.softmax_regression_grad(X, d2l.softmax(X @ W + b), y)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for i, j in zip(rng.integers(0, 784, 20), rng.integers(0, 10, 20)):
        E = tf.tensor_scatter_nd_update(tf.zeros_like(W), [[i, j]], [eps])
        numeric = (J(W + E, b) - J(W - E, b)) / (2 * eps)
        assert abs(numeric - float(dW[i, j])) < 1e-6
    for j in range(10):
        e = tf.one_hot(j, 10, dtype=tf.float64) * eps
        assert abs((J(W, b + e) - J(W, b - e)) / (2 * eps) - float(db[j])) < 1e-6


finite_logits = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 6), st.integers(2, 12)),
    elements=st.floats(-1e4, 1e4, width=32),
)


@settings(max_examples=150, deadline=None)
@given(Z=finite_logits, shift=st.floats(-1e3, 1e3, width=32), data=st.data())
def test_softmax_and_cross_entropy_properties(Z, shift, data):
    A = d2l.softmax(Z).numpy()
    assert np.isfinite(A).all() and (A >= 0).all()
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-5)
    # shift invariance: adding a constant to a row changes nothing (up to float rounding)
    shifted = d2l.softmax(Z + np.float32(shift)).numpy()
    # each shifted logit is rounded once more: an error of a few float32 ulps of its size
    ulps = 4 * np.finfo(np.float32).eps * (abs(shift) + np.abs(Z).max())
    np.testing.assert_allclose(shifted, A, atol=ulps + 1e-6)
    y = data.draw(hnp.arrays(np.int32, Z.shape[0], elements=st.integers(0, Z.shape[1] - 1)))
    l = d2l.cross_entropy.from_logits(tf.constant(Z), tf.constant(y)).numpy()
    assert np.isfinite(l).all() and (l >= 0).all()
    # cross-entropy is -log of the softmax probability of the label (in float64 for the reference)
    Z64 = Z.astype(np.float64)
    log_a = Z64 - Z64.max(1, keepdims=True)
    log_a -= np.log(np.exp(log_a).sum(1, keepdims=True))
    np.testing.assert_allclose(l, -log_a[np.arange(len(y)), y], rtol=1e-4, atol=1e-3)
