"""The checks wrapped around any step, by hand."""

import numpy as np
import pytest
import tensorflow as tf

from d2l_softmax.engine.guards import check_labels_first, python_state


def _step(X, y):  # what a training step returns: (loss, correct, count)
    return tf.reduce_sum(X), tf.constant(1.0), tf.cast(tf.size(y), tf.float32)


def test_labels_are_checked_before_the_step_eagerly_and_compiled():
    checked = check_labels_first(_step, classes=4)
    X = tf.ones((3, 2))
    assert [float(v) for v in checked(X, tf.constant([0, 3, 1]))] == [6.0, 1.0, 3.0, 0.0]
    with pytest.raises(ValueError, match="label 4 is out of range: labels must be in 0..3"):
        checked(X, tf.constant([0, 4, 1]))
    compiled = tf.function(checked)
    assert [float(v) for v in compiled(X, tf.constant([0, 3, 1]))] == [6.0, 1.0, 3.0, 0.0]
    loss, correct, count, label = (float(v) for v in compiled(X, tf.constant([0, -1, 7])))
    assert np.isnan(loss) and (correct, count, label) == (0.0, 0.0, -1.0)  # the first bad one
    wide = tf.function(check_labels_first(_step, classes=4))
    assert np.isnan(float(wide(X, tf.constant([0, 2**40, 1], tf.int64))[3]))  # not exact: NaN
    unchecked = check_labels_first(_step, classes=None)  # the loader's labels: no check
    assert float(unchecked(X, tf.constant([0, 9, 1]))[3]) == 0.0


def test_python_state_sees_what_a_trace_can_change():
    class Updater:
        def __init__(self):
            self.t, self.hyper = 0, {"lr": 0.1}

        def __call__(self, batch_size, grads):
            return helper()

    rng = np.random.default_rng(0)

    def helper():  # a global function the updater calls, reading a generator
        return rng.normal()

    updater = Updater()
    before = python_state(None, None, updater)
    updater.t += 1
    updater.hyper["lr"] = 0.2
    rng.normal()
    after = python_state(None, None, updater)
    assert before["updater.t"] == 0 and after["updater.t"] == 1
    assert after["updater.hyper['lr']"] == 0.2
    assert before["rng"] != after["rng"]  # found through the closure of the function called
    assert python_state(None, None, updater) == after  # nothing changed: the same
