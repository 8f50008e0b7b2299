"""What the engine will not compile: a CompileError naming the cause, or the net's own error."""

import random

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l

from scenarios import batches, keras_loss, keras_model

# ---------------------------------------------------------------- nets traced wrong or not at all


def test_a_net_that_cannot_be_traced_says_so(fresh):
    train_iter, _ = fresh()
    model = d2l.SoftmaxRegression(seed=0)

    def net(X):
        return model(tf.constant(X.numpy()))  # .numpy() exists only eagerly

    with pytest.raises(d2l.CompileError, match="run_eagerly=True"):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, d2l.Updater(model.params, 0.1))
    loss, acc = d2l.train_epoch_ch3(
        net, train_iter, d2l.cross_entropy, d2l.Updater(model.params, 0.1), run_eagerly=True
    )
    assert np.isfinite(loss)


@pytest.mark.parametrize("draw", ["numpy", "python"])
def test_a_net_drawing_numpy_or_python_random_numbers_is_not_compiled(fresh, draw):
    """A dropout mask drawn with NumPy (or Python's random) while tracing would be baked
    into the program: the same mask at every step, silently (three evaluations gave
    0.1012 three times, where eagerly they differ). Compiling it is refused; eagerly it
    runs, and TensorFlow's own random ops and tf.numpy_function (drawn at run time)
    are not mistaken for it."""
    import random

    train_iter, test_iter = fresh()
    model = d2l.SoftmaxRegression(seed=0)

    def mask(n):
        if draw == "numpy":
            return (np.random.uniform(size=n) > 0.5).astype(np.float32)
        return np.array([random.random() > 0.5 for _ in range(n)], np.float32)

    def dropout_net(X):
        return model(tf.reshape(X, (-1, 784)) * mask(784))

    updater = d2l.Updater(model.params, 0.1)
    with pytest.raises(d2l.CompileError, match="NumPy or Python's random"):
        d2l.train_epoch_ch3(dropout_net, train_iter, d2l.cross_entropy, updater)
    with pytest.raises(d2l.CompileError, match="run_eagerly=True"):
        d2l.evaluate_accuracy(dropout_net, test_iter, jit_compile=True)
    assert np.all(model.W.numpy() == d2l.SoftmaxRegression(seed=0).W.numpy())  # untouched
    accuracies = {d2l.evaluate_accuracy(dropout_net, test_iter, run_eagerly=True) for _ in range(3)}
    assert len(accuracies) > 1  # a new mask each time

    def tf_dropout_net(X):
        return model(tf.nn.dropout(tf.reshape(X, (-1, 784)), 0.5))

    def numpy_function_net(X):
        m = tf.numpy_function(lambda: mask(784), [], tf.float32)
        return model(tf.reshape(X, (-1, 784)) * tf.ensure_shape(m, (784,)))

    # half trained, so that a mask changes some predictions
    d2l.train_epoch_ch3(model, train_iter, d2l.cross_entropy, d2l.Updater(model.params, 0.003))
    tf.random.set_seed(None)  # under a global seed, each new program's stream starts alike
    for net in (tf_dropout_net, numpy_function_net):
        accuracies = [d2l.evaluate_accuracy(net, test_iter) for _ in range(3)]
        assert len(set(accuracies)) > 1, (net.__name__, accuracies)


def test_predictions_of_unknown_shape_say_so(fresh):
    _, test_iter = fresh()

    def net(X):  # a tf.numpy_function's output has no shape in a compiled step
        return tf.numpy_function(lambda X: np.ones((len(X), 10), np.float32), [X], tf.float32)

    with pytest.raises(ValueError, match="shape is unknown in the compiled step"):
        d2l.evaluate_accuracy(net, test_iter)
    assert d2l.evaluate_accuracy(net, test_iter, run_eagerly=True) > 0


def test_a_mistake_in_the_net_is_raised_as_it_is(fresh):
    """Not a CompileError saying to avoid .numpy(): the error running it would give."""
    train_iter, _ = fresh()
    model = d2l.SoftmaxRegression(seed=0)

    def net(X):
        return model(d2l.reshap(X, (-1, 784)))  # a typo

    with pytest.raises(AttributeError, match="reshap"):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, d2l.Updater(model.params, 0.1))
    with pytest.raises(ZeroDivisionError):
        d2l.evaluate_accuracy(lambda X: model(X) / 0 if 1 / 0 else 0, train_iter)


# ---------------------------------------------------------------- state the step itself changes


def test_an_updater_counting_its_steps_is_refused_compiled():
    """``self.t += 1`` (lr / t), and the book's Adam keeping ``hyperparams['t'] += 1``,
    would run once, at the trace: refused, naming what changed; eagerly they count."""
    model = d2l.SoftmaxRegression(seed=0)

    class Decaying:
        def __init__(self, params):
            self.params, self.t = params, 0

        def __call__(self, batch_size, grads):
            self.t += 1
            d2l.sgd(self.params, grads, 0.1 / self.t, batch_size)

    updater = Decaying(model.params)
    with pytest.raises(d2l.CompileError, match=r"updater\.t"):
        d2l.train_epoch_ch3(model, batches(), d2l.cross_entropy, updater)
    updater.t = 0
    d2l.train_epoch_ch3(model, batches(), d2l.cross_entropy, updater, run_eagerly=True)
    assert updater.t == 3

    hyperparams = {"lr": 0.1, "t": 1}

    def adam(batch_size, grads):
        d2l.sgd(model.params, grads, hyperparams["lr"] / hyperparams["t"], batch_size)
        hyperparams["t"] += 1

    adam.params = model.params
    with pytest.raises(d2l.CompileError, match=r"hyperparams\['t'\]"):
        d2l.train_epoch_ch3(model, batches(), d2l.cross_entropy, adam)


@pytest.mark.parametrize("make", [np.random.default_rng, np.random.RandomState, random.Random])
def test_a_random_generator_object_in_the_net_is_refused_compiled(make):
    """The same noise at every step, compiled; a new draw each step, eagerly."""
    model = d2l.SoftmaxRegression(seed=0)
    rng = make(0)
    draw = {
        np.random.Generator: lambda: rng.normal(),
        np.random.RandomState: lambda: rng.normal(),
        random.Random: lambda: rng.gauss(0, 1),
    }[type(rng)]

    def noisy_net(X):
        return model(X + float(draw()))

    class Noisy(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.rng = tf.keras.layers.Dense(10), make(0)

        def call(self, X):
            noise = self.rng.normal() if hasattr(self.rng, "normal") else self.rng.gauss(0, 1)
            return self.dense(tf.reshape(X, (-1, 784)) + noise)

    with pytest.raises(d2l.CompileError, match="random"):
        d2l.train_epoch_ch3(noisy_net, batches(), d2l.cross_entropy, d2l.Updater(model.params, 0.1))
    with pytest.raises(d2l.CompileError, match="random"):
        d2l.train_epoch_ch3(
            keras_model(Noisy), batches(), keras_loss(), tf.keras.optimizers.SGD(0.1)
        )
    loss, _ = d2l.train_epoch_ch3(
        noisy_net, batches(), d2l.cross_entropy, d2l.Updater(model.params, 0.1), run_eagerly=True
    )
    assert np.isfinite(loss)
