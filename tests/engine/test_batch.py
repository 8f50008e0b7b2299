import numpy as np
import tensorflow as tf

from d2l_softmax.engine import batch


def test_a_batchs_count_correct_and_summed_loss_by_hand():
    y_hat = tf.constant([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    count, correct = batch.count_and_correct(y_hat, tf.constant([0, 1, 1]))
    assert (float(count), float(correct)) == (3.0, 2.0)
    one_hot = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert [float(v) for v in batch.count_and_correct(y_hat, one_hot)] == [3.0, 2.0]
    targets = tf.constant([[2.0, 3.0], [1.0, 5.0], [0.5, 0.5]])  # a regression's: entries
    count, correct = batch.count_and_correct(y_hat, targets)
    assert float(count) == 6.0 and np.isnan(float(correct))
    l = tf.constant([1.0, 2.0, 3.0])
    keras_mean = tf.keras.losses.MeanSquaredError()
    keras_sum = tf.keras.losses.MeanSquaredError(reduction="sum")
    assert float(batch.summed_loss(None, l, 3.0)) == 6.0  # per example
    assert float(batch.summed_loss(keras_mean, tf.constant(2.0), 3.0)) == 6.0  # a mean
    assert float(batch.summed_loss(keras_sum, tf.constant(6.0), 3.0)) == 6.0  # a sum
    assert float(batch.summed_loss(lambda *a: 0, tf.constant(6.0), 3.0)) == 6.0  # the book's
