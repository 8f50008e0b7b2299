"""predict_ch3's titled images and evaluate_accuracy's numbers."""

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


def test_predict_ch3_titles(small_iters, tmp_path):
    _, test_iter = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    axes = d2l.predict_ch3(net, test_iter, n=4, save_path=tmp_path / "p.png")
    X, y = next(iter(test_iter))
    preds = d2l.get_fashion_mnist_labels(tf.argmax(net(X[:4]), 1))
    assert [ax.get_title() for ax in axes] == [
        f"{t}\n{p}" for t, p in zip(d2l.get_fashion_mnist_labels(y[:4]), preds)
    ]
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_ch3_takes_images_as_the_book_reshapes_them(small_iters):
    """Images (B, 28, 28) or flat rows (B, 784) show as the (B, 28, 28, 1) batch does
    (the book reshapes them; a (B, 28, 28) batch raised IndexError)."""
    _, test_iter = small_iters
    X, y = next(iter(test_iter))
    net = d2l.SoftmaxRegression(seed=0)
    shown = {}
    for name, images in (("4-D", X), ("3-D", X[..., 0]), ("flat", tf.reshape(X, (-1, 784)))):
        axes = d2l.predict_ch3(net, [(images, y)], n=3)
        shown[name] = (
            [ax.get_title() for ax in axes],
            [ax.get_images()[0].get_array().tolist() for ax in axes],
        )
    assert shown["3-D"] == shown["4-D"] == shown["flat"]
    np.testing.assert_allclose(shown["4-D"][1][0], X[0, :, :, 0].numpy())
    with pytest.raises(ValueError, match="square flat rows"):
        d2l.predict_ch3(
            lambda X: tf.zeros((tf.shape(X)[0], 10)), [(tf.reshape(X, (-1, 784))[:, :780], y)], n=3
        )


def test_evaluate_accuracy_hand_computed(small_dir):
    _, test_iter = d2l.load_data_fashion_mnist(32, data_dir=small_dir)
    _, labels = d2l.read_fashion_mnist(small_dir, "test")

    def constant_net(X):  # always predicts class 3
        return tf.one_hot(tf.fill(tf.shape(X)[:1], 3), 10)

    expected = float(np.mean(labels == 3))
    assert d2l.evaluate_accuracy(constant_net, test_iter) == pytest.approx(expected)
    # a plain list of batches works too, and so does an unknown dataset
    batches = [(X, y) for X, y in test_iter]
    assert d2l.evaluate_accuracy(constant_net, batches) == pytest.approx(expected)
    assert d2l.evaluate_accuracy(constant_net, test_iter.map(lambda X, y: (X, y))) == pytest.approx(
        expected
    )
