"""The chapter's recipe, as every way of the benchmark trains it, and the data it reads;
and the squeezed recipe, which trains the same model to a higher accuracy."""

from __future__ import annotations

import os
import tempfile
import time

import d2l_softmax as d2l

LR, BATCH, EPOCHS = 0.1, 256, 10  # EPOCHS is read at run time: the quick mode sets 2
HIDDEN = 256  # the MLP's hidden units
# The squeezed recipe: the same model and loss, minibatch SGD with the learning rate
# decayed along half a cosine (`d2l-softmax train --epochs 30 --batch-size 128
# --lr 0.3 --schedule cosine`).
SQUEEZED = dict(batch_size=128, lr=0.3, num_epochs=30)


def arrays(folder) -> list:
    """[(train images, labels), (test images, labels)] as uint8 NumPy arrays."""
    return [d2l.read_fashion_mnist(folder, split) for split in ("train", "test")]


def squeezed(
    data_dir=None,
    seed=0,
    batch_size=SQUEEZED["batch_size"],
    lr=SQUEEZED["lr"],
    num_epochs=SQUEEZED["num_epochs"],
):
    """The squeezed recipe through ``train_ch3``: (final test accuracy, seconds)."""
    import d2l_softmax as d2l

    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, data_dir=data_dir, seed=seed)
    net = d2l.SoftmaxRegression(seed=seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        h = d2l.train_ch3(
            net,
            train_iter,
            test_iter,
            d2l.cross_entropy,
            num_epochs,
            d2l.Updater(net.params, lr),
            verbose=False,
            lr_schedule=d2l.cosine_schedule(lr, num_epochs),
            plot_path=os.path.join(tmp, "p.png"),
        )
    return h.test_acc[-1], time.perf_counter() - start
