"""train_epoch_ch3 over any data, model and loss: the numbers of the book's loop."""

import math

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


def test_epoch_metrics_are_exact_means(small_iters, small_dir):
    """With lr tiny the parameters barely move: the epoch's numbers are the means
    of the loss and of correct predictions over every training example."""
    train_iter, _ = small_iters
    net = d2l.SoftmaxRegression(seed=1)
    images, labels = d2l.read_fashion_mnist(small_dir, "train")
    X = tf.constant(images[..., None] / 255.0, tf.float32)
    expected_loss = float(tf.reduce_mean(d2l.cross_entropy(net(X), labels)))
    expected_acc = d2l.accuracy(net(X), tf.constant(labels, tf.int32)) / len(labels)
    loss, acc = d2l.train_epoch_ch3(
        net, train_iter, d2l.cross_entropy, d2l.Updater(net.params, 1e-12)
    )
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert acc == pytest.approx(expected_acc)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_the_epoch_loss_is_the_mean_whatever_the_loss_returns(small_iters, small_dir, run_eagerly):
    """Per-example losses, a Keras loss's batch mean, a Keras loss that sums and a
    function's batch sum (read as the book reads it, ``reduce_sum(l)``): the epoch's
    loss is the mean over the examples each time (with lr 1e-12 the net does not move)."""
    train_iter, _ = small_iters
    images, labels = d2l.read_fashion_mnist(small_dir, "train")
    X, y = tf.constant(images[..., None] / 255.0, tf.float32), tf.constant(labels, tf.int32)
    net = d2l.SoftmaxRegression(seed=2)
    expected = float(tf.reduce_mean(d2l.cross_entropy(net(X), y)))

    def keras(reduction):
        return tf.keras.losses.SparseCategoricalCrossentropy(reduction=reduction)

    losses = {
        "per example": d2l.cross_entropy,
        "function's sum": lambda y_hat, y: tf.reduce_sum(d2l.cross_entropy(y_hat, y)),
        "keras mean": keras("sum_over_batch_size"),
        "keras none": keras("none"),
        "keras sum": keras("sum"),
    }
    for name, loss in losses.items():
        got, _ = d2l.train_epoch_ch3(
            net, train_iter, loss, d2l.Updater(net.params, 1e-12), run_eagerly=run_eagerly
        )
        assert got == pytest.approx(expected, rel=1e-5), name


def test_a_subclass_that_changes_the_model_trains_as_its_own_model(small_iters):
    """A SoftmaxRegression whose __call__ divides the logits by a temperature is trained
    as that model (the tape through its __call__), not on the plain logits: as the
    book's loop, written out here, trains it."""

    class Tempered(d2l.SoftmaxRegression):
        def __call__(self, X):
            return d2l.softmax(self.logits(X) / 4)

    batches = [(X, y) for X, y in small_iters[0]]
    net = Tempered(seed=3)
    sums = np.zeros(3)
    for X, y in batches:  # the book's loop
        with tf.GradientTape() as tape:
            y_hat = net(X)
            l = d2l.cross_entropy(y_hat, y)
        d2l.sgd(net.params, tape.gradient(l, net.params), 0.5, X.shape[0])
        sums += [float(tf.reduce_sum(l)), d2l.accuracy(y_hat, y), len(y)]
    for run_eagerly in (True, False):
        net = Tempered(seed=3)
        got = d2l.train_epoch_ch3(
            net, batches, d2l.cross_entropy, d2l.Updater(net.params, 0.5), run_eagerly=run_eagerly
        )
        assert got == pytest.approx((sums[0] / sums[2], sums[1] / sums[2]), rel=1e-5)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_a_generator_builds_a_keras_model_without_losing_a_batch(small_iters, run_eagerly):
    train_iter, test_iter = small_iters
    batches = [(X, y) for X, y in train_iter]

    def fresh():
        tf.keras.utils.set_random_seed(0)
        return tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])

    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    class Stream:  # read once, though iter() gives an inner iterator, not itself
        def __init__(self, batches):
            self.batches = iter(batches)

        def __iter__(self):
            return self.batches

    results = []
    for data in (batches, (batch for batch in batches), Stream(batches)):
        net = fresh()
        results.append(
            d2l.train_epoch_ch3(
                net, data, loss, tf.keras.optimizers.SGD(0.1), run_eagerly=run_eagerly
            )
        )
        results.append(
            d2l.evaluate_accuracy(fresh(), (b for b in batches), run_eagerly=run_eagerly)
        )
    for got in (results[2:4], results[4:6]):  # as on the list: no batch lost
        assert got[0] == pytest.approx(results[0], rel=1e-6)
        assert got[1] == pytest.approx(results[1], rel=1e-6)


def test_building_a_keras_model_spends_no_pass_of_a_reshuffled_dataset(small_dir):
    """An unbuilt model is built from the dataset's element shape: its first epoch sees
    the same shuffled order as a built model's does (as in the book's loop)."""
    images, labels = d2l.read_fashion_mnist(small_dir, "train")
    X, y = images[..., None].astype(np.float32) / 255, labels.astype(np.int32)

    def run(build):
        tf.keras.utils.set_random_seed(0)
        net = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
        if build:
            net(X[:1])
        data = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(len(y), seed=1).batch(32)
        return d2l.train_epoch_ch3(
            net,
            data,
            tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            tf.keras.optimizers.SGD(0.1),
        )

    assert run(build=False) == pytest.approx(run(build=True), rel=1e-6)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_one_hot_labels_count_examples_not_entries(small_iters, run_eagerly):
    """Keras' CategoricalCrossentropy takes one-hot rows (B, 10): the epoch's loss and
    accuracy are those of the same batches with integer labels (an example is a row,
    not ten entries), and evaluate_accuracy reads the rows too."""
    batches = [(X, y) for X, y in small_iters[0]]
    one_hot = [(X, tf.one_hot(y, 10)) for X, y in batches]

    def fresh():
        tf.keras.utils.set_random_seed(0)
        return tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])

    got, expected = [], []
    for data, loss, out in (
        (one_hot, tf.keras.losses.CategoricalCrossentropy(from_logits=True), got),
        (batches, tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), expected),
    ):
        net = fresh()
        out.extend(
            d2l.train_epoch_ch3(
                net, data, loss, tf.keras.optimizers.SGD(0.1), run_eagerly=run_eagerly
            )
        )
        out.append(d2l.evaluate_accuracy(net, data, run_eagerly=run_eagerly))
    assert got == pytest.approx(expected, rel=1e-5)
    assert 0.3 < expected[1] <= 1  # it learned something: the counts are not all zero


def test_a_regression_with_two_targets_is_not_taken_for_one_hot_rows():
    """Float targets (B, 2) that are not distributions: the book's loop divides by
    size(y), the entries, and accuracy does not apply (NaN)."""
    X = tf.random.stateless_normal((64, 3), seed=[0, 1])
    Y = tf.matmul(X, tf.constant([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])) + 5
    data = [(X[:32], Y[:32]), (X[32:], Y[32:])]

    def fresh():
        tf.keras.utils.set_random_seed(0)
        return tf.keras.Sequential([tf.keras.layers.Dense(2)])

    loss = tf.keras.losses.MeanSquaredError()
    net, trainer, total, size = fresh(), tf.keras.optimizers.SGD(0.01), 0.0, 0
    for Xb, Yb in data:  # the book's loop
        with tf.GradientTape() as tape:
            l = loss(Yb, net(Xb))
        trainer.apply_gradients(
            zip(tape.gradient(l, net.trainable_variables), net.trainable_variables)
        )
        total, size = total + float(l) * int(tf.size(Yb)), size + int(tf.size(Yb))
    got, acc = d2l.train_epoch_ch3(fresh(), data, loss, tf.keras.optimizers.SGD(0.01))
    assert got == pytest.approx(total / size, rel=1e-5) and math.isnan(acc)


def test_generic_iterables_and_keras(small_iters):
    train_iter, test_iter = small_iters
    other = train_iter.map(lambda X, y: (X, y))  # a dataset the loader did not make
    listed = [(X, y) for X, y in train_iter]  # a Python list of batches
    for data in (other, listed):
        net = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        trainer = tf.keras.optimizers.SGD(learning_rate=0.1)
        for _ in range(3):
            l, acc = d2l.train_epoch_ch3(net, data, loss, trainer)
        assert math.isfinite(l) and acc > 0.8
        assert d2l.evaluate_accuracy(net, test_iter) > 0.8


class _RecordingUpdater(d2l.Updater):
    """SGD that also writes down each step's batch size, in compiled code too."""

    def __init__(self, params, lr):
        super().__init__(params, lr)
        self.sizes = tf.Variable(tf.zeros(64, tf.int32))
        self.steps = tf.Variable(0)

    def __call__(self, batch_size, grads):
        self.sizes.assign(
            tf.tensor_scatter_nd_update(  # XLA can compile this one
                self.sizes, [[self.steps]], [tf.cast(batch_size, tf.int32)]
            )
        )
        self.steps.assign_add(1)
        super().__call__(batch_size, grads)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_the_short_batch_comes_last(small_iters, run_eagerly):
    """300 examples in batches of 32: the 12 left over are the last step, as
    ``.batch(32)`` gives them and as iterating the dataset gives them."""
    train_iter, _ = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    updater = _RecordingUpdater(net.params, 0.1)
    d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater, run_eagerly=run_eagerly)
    assert int(updater.steps) == 10
    assert updater.sizes.numpy()[:10].tolist() == [32] * 9 + [12]
    assert [int(X.shape[0]) for X, _ in train_iter] == [32] * 9 + [12]


def test_datasets_the_user_transforms_train_through_the_general_path(small_dir):
    def fresh():
        return d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=4)[0]

    def one_epoch(data):
        net = d2l.SoftmaxRegression(seed=0)
        metrics = d2l.train_epoch_ch3(net, data, d2l.cross_entropy, d2l.Updater(net.params, 0.3))
        return metrics, net.W.numpy()

    (loss, acc), W = one_epoch(fresh())
    # .map keeps the batches and their order: the same epoch
    (loss_m, acc_m), W_m = one_epoch(fresh().map(lambda X, y: (X * 1.0, y)))
    assert (loss_m, acc_m) == pytest.approx((loss, acc), rel=1e-5)
    np.testing.assert_allclose(W_m, W, atol=1e-6)
    # .take trains on those batches only: the first three, full ones
    net = d2l.SoftmaxRegression(seed=0)
    updater = _RecordingUpdater(net.params, 0.1)
    d2l.train_epoch_ch3(net, fresh().take(3), d2l.cross_entropy, updater)
    assert updater.sizes.numpy()[:4].tolist() == [32, 32, 32, 0]
    # .shuffle reorders the batches; the model still learns the easy small set
    shuffled, net = fresh().shuffle(4, seed=0), d2l.SoftmaxRegression(seed=0)
    updater = d2l.Updater(net.params, 0.3)
    accs = [d2l.train_epoch_ch3(net, shuffled, d2l.cross_entropy, updater)[1] for _ in range(3)]
    assert accs[-1] > 0.9
