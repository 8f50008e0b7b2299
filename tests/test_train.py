"""train_ch3 compiled, eagerly, with XLA or by the book's own loop: the same model."""

import numpy as np
import pytest
import tensorflow as tf

import d2l_softmax as d2l


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


def test_changing_lr_reaches_the_compiled_step(small_iters):
    train_iter, _ = small_iters
    net = d2l.SoftmaxRegression(seed=0)
    updater = d2l.Updater(net.params, 0.1)
    d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)
    updater.lr = 1e38  # would be ignored if the compiled step had baked in 0.1
    with pytest.raises(d2l.TrainingDivergedError):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, updater)


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
