"""A compiled run gives what the eager loop gives when Python state changes between calls."""

# Each scenario trains from the same start on a fixed list of batches twice, once with
# ``run_eagerly=True`` and once compiled, changing Python state between calls as users
# do; the parameters must agree to float rounding. Before programs were compiled once
# per call, each of these trained on silently with a stale program.

import types

import numpy as np
import tensorflow as tf

import d2l_softmax as d2l

from scenarios import batches, keras_loss, keras_model, same_either_way, weights

SCALE = 1.0  # a global a Keras model's call reads


# ---------------------------------------------------------------- state changed between calls


def test_a_global_read_by_a_keras_models_call():
    class Scaled(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(10)

        def call(self, X):
            return self.dense(tf.reshape(X, (-1, 784))) * SCALE

    def scenario(eager):
        global SCALE
        SCALE = 1.0
        model = keras_model(Scaled)
        optimizer = tf.keras.optimizers.SGD(0.1)
        d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer, run_eagerly=eager)
        SCALE = 0.25
        d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer, run_eagerly=eager)
        SCALE = 1.0
        return weights(model)

    same_either_way(scenario)


def test_a_python_attribute_of_a_keras_model_and_of_a_keras_loss():
    class Tempered(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.temperature = tf.keras.layers.Dense(10), 1.0

        def call(self, X):
            return self.dense(tf.reshape(X, (-1, 784))) / self.temperature

    class Weighted(tf.keras.losses.Loss):
        def __init__(self):
            super().__init__()
            self.weight = 1.0

        def call(self, y, y_hat):
            return self.weight * tf.keras.losses.sparse_categorical_crossentropy(
                y, y_hat, from_logits=True
            )

    def scenario(eager):
        model, loss, optimizer = keras_model(Tempered), Weighted(), tf.keras.optimizers.SGD(0.1)
        d2l.train_epoch_ch3(model, batches(), loss, optimizer, run_eagerly=eager)
        model.temperature, loss.weight = 3.0, 4.0
        d2l.train_epoch_ch3(model, batches(), loss, optimizer, run_eagerly=eager)
        return weights(model)

    same_either_way(scenario)


def test_a_layer_frozen_between_epochs_stays_frozen():
    model = keras_model(
        lambda: tf.keras.Sequential(
            [tf.keras.layers.Flatten(), tf.keras.layers.Dense(16), tf.keras.layers.Dense(10)]
        )
    )
    optimizer = tf.keras.optimizers.SGD(0.1)
    d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer)
    model.layers[1].trainable = False
    frozen = [v.numpy() for v in model.layers[1].weights]
    moving = [v.numpy() for v in model.layers[2].weights]
    d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(frozen, model.layers[1].weights))
    assert not any(np.array_equal(a, v.numpy()) for a, v in zip(moving, model.layers[2].weights))


def test_evaluate_accuracy_after_an_attribute_flips_the_output():
    class Flippable(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.flip = tf.keras.layers.Dense(10), False

        def call(self, X):
            Z = self.dense(tf.reshape(X, (-1, 784)))
            return -Z if self.flip else Z

    model = keras_model(Flippable)
    data = batches()
    before = d2l.evaluate_accuracy(model, data)
    model.flip = True
    assert d2l.evaluate_accuracy(model, data) == d2l.evaluate_accuracy(
        model, data, run_eagerly=True
    )
    model.flip = False
    assert d2l.evaluate_accuracy(model, data) == before


def test_a_sequential_model_rebuilt_and_an_optimizer_changed():
    def scenario(eager):
        model = keras_model()
        optimizer = tf.keras.optimizers.SGD(0.1)
        d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer, run_eagerly=eager)
        model.pop()
        tf.keras.utils.set_random_seed(1)
        model.add(tf.keras.layers.Dense(10))
        d2l.train_epoch_ch3(
            model, batches(), keras_loss(), tf.keras.optimizers.SGD(0.1), run_eagerly=eager
        )
        return weights(model)

    same_either_way(scenario)

    def momentum(eager):
        model = keras_model()
        optimizer = tf.keras.optimizers.SGD(0.1)
        d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer, run_eagerly=eager)
        optimizer.momentum = 0.9
        try:
            d2l.train_epoch_ch3(model, batches(), keras_loss(), optimizer, run_eagerly=eager)
        except Exception as err:  # noqa: BLE001 - whatever eager meets, compiled must meet
            return type(err)
        return weights(model)

    eager, compiled = momentum(True), momentum(False)
    if isinstance(eager, type):
        assert compiled is eager
    else:
        same_either_way(momentum)


def test_the_books_updater_rebound_variables_and_a_new_lr():
    """A notebook cell run again makes new W and b under the same names; the book's
    Updater keeps lr as a Python float, changed between calls and by a schedule."""
    params_cell = "W = tf.Variable(tf.fill((784, 10), 0.01))\nb = tf.Variable(tf.zeros(10))\n"
    net_cell = "def net(X):\n    return d2l.softmax(tf.matmul(tf.reshape(X, (-1, 784)), W) + b)\n"

    class Updater:
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def __call__(self, batch_size, grads):
            d2l.sgd(self.params, grads, self.lr, batch_size)

    def scenario(eager):
        ns = {"d2l": d2l, "tf": tf}
        exec(params_cell + net_cell, ns)
        net = ns["net"]
        updater = Updater([ns["W"], ns["b"]], 0.1)
        d2l.train_epoch_ch3(net, batches(), d2l.cross_entropy, updater, run_eagerly=eager)
        exec(params_cell, ns)  # the cell run again: new W and b that net reads
        updater = Updater([ns["W"], ns["b"]], 0.1)
        d2l.train_epoch_ch3(net, batches(), d2l.cross_entropy, updater, run_eagerly=eager)
        updater.lr = 0.5
        d2l.train_epoch_ch3(net, batches(), d2l.cross_entropy, updater, run_eagerly=eager)
        d2l.train_ch3(
            net,
            batches(),
            batches(1, seed=1),
            d2l.cross_entropy,
            3,
            updater,
            run_eagerly=eager,
            check=False,
            verbose=False,
            lr_schedule=lambda epoch: 0.3 / epoch,
        )
        return [ns["W"].numpy(), ns["b"].numpy()]

    same_either_way(scenario)


def test_a_function_updaters_attribute_and_a_module_it_reads():
    config = types.ModuleType("config")
    config.lr = 0.1
    model = d2l.SoftmaxRegression(seed=0)

    def updater(batch_size, grads):
        d2l.sgd(model.params, grads, updater.lr * config.lr * 10, batch_size)

    updater.params = model.params

    def scenario(eager):
        model.W.assign(tf.zeros_like(model.W))
        model.b.assign(tf.zeros_like(model.b))
        updater.lr, config.lr = 0.1, 0.1
        d2l.train_epoch_ch3(model, batches(), d2l.cross_entropy, updater, run_eagerly=eager)
        updater.lr, config.lr = 0.5, 0.3
        d2l.train_epoch_ch3(model, batches(), d2l.cross_entropy, updater, run_eagerly=eager)
        return [model.W.numpy(), model.b.numpy()]

    same_either_way(scenario)
