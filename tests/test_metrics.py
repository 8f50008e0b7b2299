import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


def test_accuracy_is_a_count_as_in_the_book():
    y_hat = tf.constant([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert d2l.accuracy(y_hat, tf.constant([0, 2])) == 1.0
    assert d2l.accuracy(tf.constant([2, 2, 1]), tf.constant([2, 2, 2])) == 2.0


def test_accuracy_rejects_misaligned_shapes():
    with pytest.raises(ValueError, match="do not line up"):
        d2l.accuracy(tf.constant([[1, 2], [3, 4]]), tf.constant([[0], [1]]))


def test_accumulator():
    acc = d2l.Accumulator(2)
    acc.add(1, 2.5)
    acc.add(tf.constant(3.0), 0.5)
    assert (acc[0], acc[1]) == (4.0, 3.0)
    acc.reset()
    assert acc[0] == 0.0


def test_confusion_matrix():
    m = d2l.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], num_classes=3)
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_a_batchs_count_correct_and_summed_loss_by_hand():
    y_hat = tf.constant([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    count, correct = d2l.metrics.count_and_correct(y_hat, tf.constant([0, 1, 1]))
    assert (float(count), float(correct)) == (3.0, 2.0)
    one_hot = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert [float(v) for v in d2l.metrics.count_and_correct(y_hat, one_hot)] == [3.0, 2.0]
    targets = tf.constant([[2.0, 3.0], [1.0, 5.0], [0.5, 0.5]])  # a regression's: entries
    count, correct = d2l.metrics.count_and_correct(y_hat, targets)
    assert float(count) == 6.0 and np.isnan(float(correct))
    l = tf.constant([1.0, 2.0, 3.0])
    keras_mean = tf.keras.losses.MeanSquaredError()
    keras_sum = tf.keras.losses.MeanSquaredError(reduction="sum")
    assert float(d2l.metrics.summed_loss(None, l, 3.0)) == 6.0            # per example
    assert float(d2l.metrics.summed_loss(keras_mean, tf.constant(2.0), 3.0)) == 6.0  # a mean
    assert float(d2l.metrics.summed_loss(keras_sum, tf.constant(6.0), 3.0)) == 6.0   # a sum
    assert float(d2l.metrics.summed_loss(lambda *a: 0, tf.constant(6.0), 3.0)) == 6.0  # the book's
