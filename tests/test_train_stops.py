"""Training that stops: divergence, bad arguments and shapes, and Ctrl-C."""

import numpy as np
import pytest

import d2l_softmax as d2l


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


def test_wrong_image_shape_is_reported(small_dir):
    train_iter, _ = d2l.load_data_fashion_mnist(32, resize=32, data_dir=small_dir)
    net = d2l.SoftmaxRegression(seed=0)
    with pytest.raises(ValueError, match=r"784 values each"):
        d2l.train_epoch_ch3(net, train_iter, d2l.cross_entropy, d2l.Updater(net.params, 0.1))


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
