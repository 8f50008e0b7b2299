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
