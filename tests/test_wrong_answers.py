"""No silent wrong answers: each public function either computes the right thing or
raises ValueError; values are checked in the caller's dtype, before any narrowing."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import d2l_softmax as d2l
from d2l_softmax import model as model_module
from d2l_softmax.engine import guards
from d2l_softmax.engine.batch import correct_count
from d2l_softmax.figures import confusion_matrix

# ---------------------------------------------------------------- softmax


@pytest.mark.parametrize("fn", [d2l.softmax, model_module.softmax_naive])
def test_softmax_normalises_the_last_axis_of_any_rank(fn):
    X = tf.random.stateless_normal((2, 3, 4), seed=[0, 1])
    P = fn(X)
    np.testing.assert_allclose(tf.reduce_sum(P, -1), np.ones((2, 3)), rtol=1e-6)
    np.testing.assert_allclose(P, tf.nn.softmax(X), rtol=1e-5)
    np.testing.assert_allclose(fn(X[0, 0]), tf.nn.softmax(X[0, 0]), rtol=1e-5)  # a vector
    np.testing.assert_allclose(fn(tf.constant([[1, 2]])), tf.nn.softmax([[1.0, 2.0]]), rtol=1e-6)
    with pytest.raises(ValueError, match="scalar"):
        fn(tf.constant(1.0))


def test_softmax_of_infinite_logits_is_their_limit():
    inf, nan = np.inf, np.nan
    cases = [
        ([[inf, 1.0]], [[1.0, 0.0]]),
        ([[inf, inf, 0.0]], [[0.5, 0.5, 0.0]]),
        ([[-inf, 0.0]], [[0.0, 1.0]]),
        ([[inf, -inf]], [[1.0, 0.0]]),
        ([[nan, 0.0]], [[nan, nan]]),
        ([[-inf, -inf]], [[nan, nan]]),
    ]
    for X, expected in cases:
        np.testing.assert_array_equal(d2l.softmax(tf.constant(X)), expected, err_msg=str(X))


# ---------------------------------------------------------------- labels

WIDE = [2**32 + 3, 2**31, -(2**32) + 5]  # wrap to 3, -2**31 and 5 as int32


@pytest.mark.parametrize("label", WIDE + [-1, 10, 255])
def test_a_wide_label_is_checked_before_narrowing(label):
    y = tf.constant([label], tf.int64)
    with pytest.raises(ValueError, match=f"label {label} is out of range"):
        guards.check_labels(y, 10)
    with pytest.raises(ValueError, match="out of range"):
        d2l.cross_entropy(tf.fill((1, 10), 0.1), y)
    compiled = tf.function(lambda y: guards.check_labels(y, 10))
    assert compiled(y).numpy().tolist() == [-1]  # the loss kernel then rejects it


def test_uint64_labels_above_int64_are_out_of_range():
    with pytest.raises(ValueError, match=f"label {2**63 + 3} is out of range"):
        guards.check_labels(tf.constant([2**63 + 3], tf.uint64), 10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8))
def test_any_int64_label_outside_the_classes_is_refused(labels):
    y = tf.constant(labels, tf.int64)
    if all(0 <= v < 10 for v in labels):
        assert guards.check_labels(y, 10).numpy().tolist() == labels
    else:
        with pytest.raises(ValueError, match="out of range"):
            guards.check_labels(y, 10)


@pytest.mark.parametrize(
    "labels",
    [[-1], [10], np.array([255], np.uint8), [2.0], [True], np.array([2**32 + 3], np.int64), ["3"]],
)
def test_text_labels_only_of_classes(labels):
    with pytest.raises(ValueError):
        d2l.get_fashion_mnist_labels(labels)
    assert d2l.get_fashion_mnist_labels(np.array([9], np.uint64)) == ["ankle boot"]


# ---------------------------------------------------------------- accuracy


def test_float_labels_never_count_as_correct():
    X = tf.zeros((4, 28, 28, 1))
    y = tf.constant([0.0, 1.0, 2.0, 3.0])
    always_right = lambda X: tf.one_hot([0, 1, 2, 3], 10)  # noqa: E731
    for run_eagerly in (True, False):
        with pytest.raises(ValueError, match="labels must be integers, got dtype float32"):
            d2l.evaluate_accuracy(always_right, [(X, y)], run_eagerly=run_eagerly)
    with pytest.raises(ValueError, match="labels must be integers"):
        d2l.accuracy(tf.one_hot([0, 1], 10), tf.constant([0.0, 1.0]))
    with pytest.raises(ValueError, match="predicted labels .* must be integers"):
        d2l.accuracy(tf.constant([0.0, 1.0]), tf.constant([0, 1]))


@pytest.mark.parametrize(
    "y_hat, y",
    [
        (tf.zeros((3, 10)), tf.zeros(2, tf.int32)),  # 3 predictions, 2 labels
        (tf.zeros((2, 10)), tf.zeros((2, 1), tf.int32)),  # labels not a vector
        (tf.zeros((2, 1)), tf.zeros(2, tf.int32)),  # one class
        (tf.zeros((2, 3, 10)), tf.zeros(2, tf.int32)),  # rank 3
    ],
)
def test_predictions_and_labels_must_line_up(y_hat, y):
    with pytest.raises(ValueError):
        correct_count(y_hat, y)


def test_losses_and_gradients_check_shapes():
    with pytest.raises(ValueError, match="do not line up"):
        d2l.cross_entropy(tf.fill((3, 10), 0.1), tf.constant([1, 2]))
    with pytest.raises(ValueError, match="do not line up"):
        d2l.cross_entropy.from_logits(tf.zeros((3, 10)), tf.constant([1, 2]))
    with pytest.raises(ValueError, match="do not line up"):
        model_module.softmax_regression_grad(
            tf.zeros((2, 784)), tf.fill((3, 10), 0.1), tf.constant([1, 2, 3])
        )


def test_confusion_matrix_checks_its_labels():
    assert confusion_matrix([0, 1, 1], [0, 1, 2], 3).tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    for y_true, y_pred in (
        ([0, 10], [0, 1]),
        ([0, 1], [0, -1]),
        ([0.0, 1.0], [0, 1]),
        ([0, 1, 2], [0, 1]),
    ):
        with pytest.raises(ValueError):
            confusion_matrix(y_true, y_pred)


# ---------------------------------------------------------------- learning rates


@pytest.mark.parametrize(
    "lr", [1e-50, 1e-46, 1e39, float("inf"), float("nan"), -0.1, "0.1", True]
)  # 0 is the book's too: no update
def test_learning_rates_float32_cannot_hold_are_refused(lr):
    with pytest.raises(ValueError):
        d2l.Updater(d2l.SoftmaxRegression(seed=0).params, lr)
    updater = d2l.Updater(d2l.SoftmaxRegression(seed=0).params, 0.1)
    with pytest.raises(ValueError):
        updater.lr = lr
    assert updater.lr == 0.1


def test_the_smallest_and_largest_float32_learning_rates_are_accepted():
    for lr, held in ((1e-38, 1e-38), (1e-45, 1e-45), (3e38, 3e38), (0.123456789, 0.12345679)):
        updater = d2l.Updater(d2l.SoftmaxRegression(seed=0).params, lr)
        assert updater.lr == held and np.float32(updater.lr) == np.float32(lr)


def _book_cross_entropy(y_hat, y):  # the chapter's own: a label of 10 masks nothing
    return -tf.math.log(tf.boolean_mask(y_hat, tf.one_hot(y, depth=y_hat.shape[-1])))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("loss", [d2l.cross_entropy, _book_cross_entropy])
def test_a_label_out_of_range_never_trains_on_silently(jit_compile, loss):
    """The chapter's own net (no logits): XLA's gather would pick some a_j for label 10
    and train on, the book's boolean_mask would drop the row. Training stops at that
    batch with the eager path's ValueError, and that batch is not trained on."""
    W = tf.Variable(tf.random.stateless_normal((784, 10), seed=[0, 1], stddev=0.01))
    b = tf.Variable(tf.zeros(10))

    def net(X):
        return d2l.softmax(tf.matmul(tf.reshape(X, (-1, 784)), W) + b)

    X = tf.random.stateless_uniform((64, 28, 28, 1), seed=[1, 2])
    y = tf.constant([1] * 40 + [10] + [1] * 23, tf.int32)
    batches = [(X[:32], y[:32]), (X[32:], y[32:])]
    d2l.train_epoch_ch3(net, batches[:1], loss, d2l.Updater([W, b], 0.1), run_eagerly=True)
    after_first = W.numpy()
    W.assign(tf.random.stateless_normal((784, 10), seed=[0, 1], stddev=0.01))
    b.assign(tf.zeros(10))
    for data in (batches, tf.data.Dataset.from_tensor_slices((X, y)).batch(32)):
        with pytest.raises(
            ValueError,
            match="label 10 is out of range at batch 2: labels must be in 0..9 for 10 classes",
        ):
            d2l.train_epoch_ch3(net, data, loss, d2l.Updater([W, b], 0.1), jit_compile=jit_compile)
        np.testing.assert_allclose(W.numpy(), after_first, atol=1e-7)
        W.assign(tf.random.stateless_normal((784, 10), seed=[0, 1], stddev=0.01))
        b.assign(tf.zeros(10))


@pytest.mark.parametrize(
    "label, dtype, shown", [(10, tf.int32, "label 10"), (2**32 + 3, tf.int64, "a label")]
)
def test_compiled_training_reports_a_label_out_of_range_as_eager_does(label, dtype, shown):
    """Not TensorFlow's 24-line kernel error: the ValueError of the eager path."""
    X = tf.random.stateless_uniform((64, 28, 28, 1), seed=[1, 2])
    y = tf.constant([label] + [1] * 63, dtype)
    net = d2l.SoftmaxRegression(seed=0)
    for data in (
        [(X[:32], y[:32]), (X[32:], y[32:])],
        tf.data.Dataset.from_tensor_slices((X, y)).batch(32),
    ):
        with pytest.raises(
            ValueError, match=f"^{shown} is out of range at batch 1: labels must be in 0..9"
        ):
            d2l.train_epoch_ch3(net, data, d2l.cross_entropy, d2l.Updater(net.params, 0.1))
