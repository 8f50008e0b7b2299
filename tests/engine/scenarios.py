"""Runs made eagerly and compiled: fixed batches, a seeded Keras model, a check they agree."""

import numpy as np
import tensorflow as tf


def batches(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            tf.constant(rng.uniform(size=(32, 28, 28, 1)), tf.float32),
            tf.constant(rng.integers(0, 10, 32), tf.int32),
        )
        for _ in range(n)
    ]


def keras_model(cls=None, seed=0):
    tf.keras.utils.set_random_seed(seed)
    model = (
        cls or (lambda: tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)]))
    )()
    model(tf.zeros((1, 28, 28, 1)))
    return model


def keras_loss():
    return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def same_either_way(scenario):
    """The parameters ``scenario(eager)`` ends with, eager and compiled, agree."""
    eager, compiled = scenario(True), scenario(False)
    for a, b in zip(eager, compiled, strict=True):
        assert np.max(np.abs(np.asarray(a) - np.asarray(b))) < 1e-5


def weights(model):
    return [v.numpy() for v in model.weights]
