import math

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


@pytest.fixture
def small_iters(small_dir):
    return d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=0)


def _fit(small_dir, run_eagerly, updater_cls=d2l.Updater, epochs=3, **kw):
    train_iter, test_iter = d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=11)
    net = d2l.SoftmaxRegression(seed=4)
    updater = updater_cls(net if updater_cls is d2l.AnalyticUpdater else net.params, 0.1)
    history = d2l.train_ch3(
        net,
        train_iter,
        test_iter,
        d2l.cross_entropy,
        epochs,
        updater,
        run_eagerly=run_eagerly,
        check=False,
        verbose=False,
        **kw,
    )
    return net, history


def test_compiled_and_eager_paths_agree(small_dir, tmp_path):
    eager, h_eager = _fit(small_dir, True, plot_path=tmp_path / "a.png")
    compiled, h_compiled = _fit(small_dir, False, plot_path=tmp_path / "b.png")
    np.testing.assert_allclose(compiled.W, eager.W, atol=1e-6)
    np.testing.assert_allclose(compiled.b, eager.b, atol=1e-6)
    np.testing.assert_allclose(h_compiled.train_loss, h_eager.train_loss, rtol=1e-5)
    assert h_compiled.train_acc == pytest.approx(h_eager.train_acc)
    assert h_compiled.test_acc == pytest.approx(h_eager.test_acc)
    assert h_compiled.train_acc[-1] > 0.9  # the small data set is easy to learn


def test_analytic_updater_trains_the_same(small_dir, tmp_path):
    tape, _ = _fit(small_dir, False, plot_path=tmp_path / "a.png")
    analytic, _ = _fit(small_dir, False, d2l.AnalyticUpdater, plot_path=tmp_path / "b.png")
    np.testing.assert_allclose(analytic.W, tape.W, atol=1e-5)


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


def test_divergence_stops_with_epoch_and_batch(small_iters):
    train_iter, test_iter = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(
        d2l.TrainingDivergedError, match=r"epoch 1, batch \d+.*smaller learning rate"
    ):
        d2l.train_ch3(
            net,
            train_iter,
            test_iter,
            d2l.cross_entropy,
            5,
            d2l.Updater(net.params, 1e38),
            verbose=False,
            plot_path=None,
        )
    # eager as well, and a Python list of batches (compiled steps, sums kept on the device)
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(d2l.TrainingDivergedError, match=r"epoch 1, batch \d+"):
        d2l.train_ch3(
            net,
            train_iter,
            test_iter,
            d2l.cross_entropy,
            5,
            d2l.Updater(net.params, 1e38),
            verbose=False,
            run_eagerly=True,
        )
    listed = list(train_iter)
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(d2l.TrainingDivergedError, match=r"batch \d+"):
        d2l.train_epoch_ch3(net, listed, d2l.cross_entropy, d2l.Updater(net.params, 1e38))


def test_book_asserts_and_bad_epochs(small_iters):
    train_iter, test_iter = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(AssertionError, match="train loss"):
        d2l.train_ch3(
            net,
            train_iter,
            test_iter,
            d2l.cross_entropy,
            1,
            d2l.Updater(net.params, 1e-6),
            verbose=False,
        )
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="num_epochs must be a positive integer"):
            d2l.train_ch3(
                net, train_iter, test_iter, d2l.cross_entropy, bad, d2l.Updater(net.params, 0.1)
            )


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


def test_wrong_image_shape_is_reported(small_dir):
    train_iter, _ = d2l.load_data_fashion_mnist(32, resize=32, data_dir=small_dir)
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(ValueError, match=r"784 values each"):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, d2l.Updater(net.params, 0.1))


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


def test_changing_lr_reaches_the_compiled_step(small_iters):
    train_iter, _ = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    updater = d2l.Updater(net.params, 0.1)
    d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
    updater.lr = 1e38  # would be ignored if the compiled step had baked in 0.1
    with pytest.raises(d2l.TrainingDivergedError):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)


def test_first_ctrl_c_stops_after_the_epoch_and_keeps_the_history(
    small_iters, tmp_path, sigint_raises
):
    import signal

    train_iter, test_iter = small_iters

    class InterruptAtEpoch2(d2l.Animator):
        def add(self, x, y):
            super().add(x, y)
            if x == 2:
                signal.raise_signal(signal.SIGINT)

    net = d2l.SoftmaxRegression(seed=0)
    animator = InterruptAtEpoch2(save_path=tmp_path / "a.png", verbose=False)
    history = d2l.train_ch3(
        net,
        train_iter,
        test_iter,
        d2l.cross_entropy,
        10,
        d2l.Updater(net.params, 0.1),
        animator=animator,
        verbose=False,
    )
    assert history.interrupted and len(history.train_loss) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["compiled steps", "eager"])
def test_a_ctrl_c_in_mid_epoch_lets_the_epoch_finish(small_iters, sigint_raises, run_eagerly):
    """Over a Python iterable (one compiled step a batch) or eagerly, a first Ctrl-C in
    the middle of an epoch lets it finish, as over a dataset: the history's epoch is a
    whole one (it recorded the part read, 109 of 235 batches, as an epoch)."""
    import signal

    train_iter, test_iter = small_iters
    batches = list(train_iter)
    read = []

    class Batches:  # re-iterable; asks to stop in the middle of the second epoch
        def __iter__(self):
            for i, batch in enumerate(batches):
                read.append(i)
                if len(read) == len(batches) + 3:
                    signal.raise_signal(signal.SIGINT)
                yield batch

    net = d2l.SoftmaxRegression(seed=0)
    updater = d2l.Updater(net.params, 0.1)
    history = d2l.train_ch3(
        net,
        Batches(),
        test_iter,
        d2l.cross_entropy,
        5,
        updater,
        run_eagerly=run_eagerly,
        check=False,
        verbose=False,
    )
    assert history.interrupted and len(history.train_loss) == 2
    assert len(read) == 2 * len(batches)  # both epochs whole
    again = d2l.SoftmaxRegression(seed=0)
    for _ in range(2):
        d2l.train_epoch_ch3(
            again, batches, d2l.cross_entropy, d2l.Updater(again.params, 0.1), run_eagerly=True
        )
    np.testing.assert_allclose(net.W.numpy(), again.W.numpy(), atol=1e-6)


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


def _book_epoch(net, train_iter, updater):
    """The chapter's epoch as the book writes it: a Python loop over the dataset."""
    for X, y in train_iter:
        with tf.GradientTape() as tape:
            l = d2l.cross_entropy(net(X), y)
        updater(X.shape[0], tape.gradient(l, updater.params))


def test_iterating_by_hand_and_train_ch3_see_the_same_batches(small_dir, tmp_path):
    """Under a seed, the book's own loop over ``train_iter`` and ``train_ch3`` train on
    the same batches in the same order: the same model after two epochs."""
    models = []
    for by_hand in (True, False):
        train_iter, test_iter = d2l.load_data_fashion_mnist(32, data_dir=small_dir, seed=9)
        net = d2l.SoftmaxRegression(seed=1)
        updater = d2l.Updater(net.params, 0.1)
        if by_hand:
            for _ in range(2):
                _book_epoch(net, train_iter, updater)
        else:
            d2l.train_ch3(
                net,
                train_iter,
                test_iter,
                d2l.cross_entropy,
                2,
                updater,
                check=False,
                verbose=False,
                plot_path=tmp_path / "t.png",
            )
        models.append(net.W.numpy())
    np.testing.assert_allclose(models[1], models[0], atol=1e-6)


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


def test_the_run_length_chooses_how_to_compile_with_the_same_results(
    small_dir, tmp_path, monkeypatch
):
    """A short run compiles a plain graph, a long one XLA (train_ch3 knows the run's
    length); either way the same seed gives the same model, and the same path twice
    gives it bit for bit."""
    from d2l_softmax.engine import program

    made = []  # (what, xla) of each program compiled
    real_init = program.Program.__init__

    def recording_init(self, make, what, xla, **options):
        made.append((what, xla))
        real_init(self, make, what, xla, **options)

    monkeypatch.setattr(program.Program, "__init__", recording_init)

    def paths():  # how the training epochs were compiled (evaluation: a plain graph)
        found = {xla for what, xla in made if what == "training epoch"}
        made.clear()
        return found

    graph, _ = _fit(small_dir, False, plot_path=tmp_path / "a.png")
    assert paths() == {False}  # 3 epochs of 10 steps: far below XLA_MIN_STEPS
    again, _ = _fit(small_dir, False, plot_path=tmp_path / "b.png")
    np.testing.assert_array_equal(again.W, graph.W)
    monkeypatch.setattr(program, "XLA_MIN_STEPS", 30)  # now 3 epochs of 10 steps is long
    paths()
    xla, h_xla = _fit(small_dir, False, plot_path=tmp_path / "c.png")
    assert paths() == {None}  # XLA, falling back to a graph if it must
    np.testing.assert_allclose(xla.W, graph.W, atol=1e-6)
    np.testing.assert_allclose(xla.b, graph.b, atol=1e-6)
    assert h_xla.train_acc[-1] > 0.9
