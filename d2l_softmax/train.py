"""Training, as the chapter writes it: one step, one epoch, the loop, prediction.

The step is the chapter's: a ``tf.GradientTape`` records the forward pass and the
loss, and the updater applies the gradients. :func:`train_epoch_ch3` repeats it
over the data through one call, :func:`~d2l_softmax.engine.epoch.run_epoch`, which
compiles the loop and checks what the eager loop would meet (labels out of range, a
loss that diverges). Skipping the engine, read ``run_epoch(step, ..., data_iter)`` as::

    for X, y in data_iter:
        sums += step(X, y)

``run_eagerly=True`` runs exactly that, in Python, for stepping through with a debugger.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import tensorflow as tf

from .checks import check_positive_int
from .data import get_fashion_mnist_labels
from .engine.batch import correct_count, count_and_correct, examples, summed_loss
from .engine.epoch import first_batch, run_epoch, steps_per_epoch
from .engine.interrupt import StopOnInterrupt
from .engine.loops import TrainingDivergedError
from .engine.program import programs_kept, set_learning_rate
from .io.display import AxesList
from .io.terminal import epoch_bar, write_line
from .model import trains_on_logits
from .plots import Animator, show_images


@dataclass
class History:
    """Per-epoch numbers from :func:`train_ch3`."""

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    interrupted: bool = False

    def add(self, train_loss, train_acc, test_acc, *, seconds) -> None:
        """Record one epoch's numbers."""
        self.train_loss.append(float(train_loss))
        self.train_acc.append(float(train_acc))
        self.test_acc.append(float(test_acc))
        self.epoch_seconds.append(float(seconds))

    def as_dict(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:  # one line: the last epoch's numbers
        if not self.train_loss:
            return "History(no epochs)"
        stopped = ", interrupted" if self.interrupted else ""
        return (
            f"History({len(self.train_loss)} epochs{stopped}"
            f": train loss {self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.4f}, "
            f"test acc {self.test_acc[-1]:.4f})"
        )


# ---------------------------------------------------------------- one step


def forward(net, loss, X, y):
    """``(y_hat, l)``: the predictions and the loss, as the book calls them (a Keras loss
    takes ``(y, y_hat)``). A :class:`~d2l_softmax.model.SoftmaxRegression` with
    :data:`~d2l_softmax.model.cross_entropy` trains on the stable fused form
    (:func:`~d2l_softmax.model.trains_on_logits`)."""
    if trains_on_logits(net, loss):
        y_hat = net.logits(X)
        return y_hat, loss.from_logits(y_hat, y)
    y_hat = net(X)
    if isinstance(loss, tf.keras.losses.Loss):
        return y_hat, loss(y, y_hat)
    return y_hat, loss(y_hat, y)


def make_train_step(net, loss, updater) -> Callable:
    """``step(X, y) -> (summed loss, correct count, count)`` doing one update.

    An updater with a ``train_step(X, y)`` method
    (:class:`~d2l_softmax.optim.AnalyticUpdater`) computes its own gradient.
    """
    if hasattr(updater, "train_step"):
        updater.check_trains(net, loss)

    def step(X, y):
        if hasattr(updater, "train_step"):
            y_hat, l = updater.train_step(X, y)
        else:
            with tf.GradientTape() as tape:
                y_hat, l = forward(net, loss, X, y)
            if isinstance(updater, tf.keras.optimizers.Optimizer):
                params = net.trainable_variables
                updater.apply_gradients(zip(tape.gradient(l, params), params))
            else:
                updater(batch_size(X), tape.gradient(l, updater.params))
        count, correct = count_and_correct(y_hat, y)
        return summed_loss(loss, l, count), correct, count

    return step


def batch_size(X: tf.Tensor):
    """The batch size as the book passes it, ``X.shape[0]``; a float tensor when the
    compiled graph does not know it."""
    return X.shape[0] if X.shape[0] is not None else tf.cast(tf.shape(X)[0], tf.float32)


def make_eval_step(net) -> Callable:
    """``step(X, y) -> (correct count, count)``."""

    def step(X, y):
        return correct_count(net(X), y), examples(y)

    return step


# ---------------------------------------------------------------- one epoch


def train_epoch_ch3(
    net,
    train_iter,
    loss,
    updater,
    *,
    run_eagerly: bool = False,
    jit_compile: bool | None = None,
    _epoch: int | None = None,
    _run_steps: int | None = None,
) -> tuple[float, float]:
    """Train ``net`` for one pass over ``train_iter``; return (mean loss, mean accuracy).
    The accuracy is NaN for float labels (a regression's targets).

    ``loss``: a per-example function ``loss(y_hat, y)`` or a ``tf.keras.losses.Loss``
    (how one number for the batch is read: :func:`~d2l_softmax.engine.batch.summed_loss`);
    ``updater``: an :class:`~d2l_softmax.optim.Updater` (anything with ``params`` and
    ``updater(batch_size, grads)``) or a ``tf.keras.optimizers.Optimizer``.
    ``jit_compile``: None compiles a plain graph, and XLA (falling back to the
    graph) only for a run long enough to pay back XLA's compile time
    (:func:`~d2l_softmax.engine.program.use_xla`; :func:`train_ch3` knows the run's length);
    True insists on XLA, False never uses it.
    """
    step = make_train_step(net, loss, updater)
    loss_sum, correct, count = run_epoch(
        step,
        (net, loss, updater),
        train_iter,
        training=True,
        run_eagerly=run_eagerly,
        jit_compile=jit_compile,
        run_steps=_run_steps,
        epoch=_epoch,
    )
    if count == 0:
        raise ValueError("train_iter yielded no examples")
    if not math.isfinite(loss_sum):
        raise TrainingDivergedError(_epoch, -1, loss_sum)
    return float(loss_sum / count), float(correct / count)


def evaluate_accuracy(
    net, data_iter, *, run_eagerly: bool = False, jit_compile: bool | None = False
) -> float:
    """The fraction of ``data_iter`` that ``net`` classifies correctly, in [0, 1].

    Compiled as a plain graph by default, not XLA: one pass over the test set is a
    few milliseconds either way, and the plain graph compiles in about a third of
    the time (XLA pays off in training, where the step is repeated).
    """
    correct, count = run_epoch(
        make_eval_step(net),
        (net,),
        data_iter,
        training=False,
        run_eagerly=run_eagerly,
        jit_compile=jit_compile,
    )
    if count == 0:
        raise ValueError("data_iter yielded no examples")
    return float(correct / count)


# ---------------------------------------------------------------- the chapter's loop


def train_ch3(
    net,
    train_iter,
    test_iter,
    loss,
    num_epochs: int,
    updater,
    *,
    run_eagerly: bool = False,
    jit_compile: bool | None = None,
    animator: Animator | None = None,
    plot_path=None,
    check: bool = True,
    verbose: bool = True,
    lr_schedule: Callable[[int], float] | None = None,
) -> History:
    """Train ``net`` for ``num_epochs``, drawing loss and accuracies as it goes.

    Takes what :func:`train_epoch_ch3` takes. The book's sanity checks follow
    (``check=True``): final train loss < 0.5 and both accuracies in (0.7, 1];
    they raise ``AssertionError``. Returns the per-epoch :class:`History`.
    In a terminal the figure is saved to ``plot_path`` (or a printed temporary
    path) instead of being shown. ``lr_schedule(epoch)`` sets the updater's learning
    rate before each epoch (see :func:`~d2l_softmax.optim.cosine_schedule`). A first
    Ctrl-C stops after the current epoch and returns the history so far, with
    ``interrupted=True``.
    """
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    if animator is None:
        animator = Animator(
            xlabel="epoch",
            xlim=[1, float(num_epochs)],
            ylim=[0.3, 0.9],
            legend=["train loss", "train acc", "test acc"],
            save_path=plot_path,
            verbose=verbose,
        )
    history = History()
    per_epoch = steps_per_epoch(train_iter)
    run_steps = per_epoch * num_epochs if per_epoch is not None else None
    # a progress bar in a terminal; Jupyter has the plot
    epochs = epoch_bar(range(1, num_epochs + 1), hidden=animator.live or not verbose)
    with StopOnInterrupt() as stop, programs_kept():
        for epoch in epochs:
            if lr_schedule is not None:
                set_learning_rate(updater, lr_schedule(epoch))
            start = time.perf_counter()
            train_metrics = train_epoch_ch3(
                net,
                train_iter,
                loss,
                updater,
                run_eagerly=run_eagerly,
                jit_compile=jit_compile,
                _epoch=epoch,
                _run_steps=run_steps,
            )
            test_acc = evaluate_accuracy(
                net, test_iter, run_eagerly=run_eagerly, jit_compile=bool(jit_compile)
            )
            history.add(*train_metrics, test_acc, seconds=time.perf_counter() - start)
            animator.add(epoch, train_metrics + (test_acc,))
            if stop.is_set():
                history.interrupted = True
                if verbose:
                    write_line(  # above the progress bar, not over it
                        f"Training interrupted after epoch {epoch}; the parameters and "
                        "history so far are kept."
                    )
                break
    animator.close()
    if check and not history.interrupted:
        train_loss, train_acc = train_metrics
        assert train_loss < 0.5, f"train loss {train_loss} is not < 0.5"
        assert 0.7 < train_acc <= 1, f"train accuracy {train_acc} is not in (0.7, 1]"
        assert 0.7 < test_acc <= 1, f"test accuracy {test_acc} is not in (0.7, 1]"
    return history


def predict_labels(net, X: tf.Tensor) -> tf.Tensor:
    """Predicted classes (B,) of a batch of images."""
    return tf.argmax(net(X), axis=1)


def predict_ch3(net, test_iter, n: int = 6, *, save_path=None, max_cols: int = 8):
    """Show the first ``n`` test images titled "true\npredicted"; return their axes (a
    list that a notebook does not echo under the figure, as the book returns nothing).

    The images are laid out in a grid of at most ``max_cols`` columns, rows as
    needed (6 images: one row, as in the book; 12: two rows of 6). Only the first
    batch of ``test_iter`` is looked at, so at most one batch is shown.
    """
    n = check_positive_int(n, "n")
    batch = first_batch(test_iter)
    if batch is None:
        raise ValueError("test_iter yielded no examples")
    X, y = batch
    n = min(int(n), int(X.shape[0]))
    trues = get_fashion_mnist_labels(y[:n])
    preds = get_fashion_mnist_labels(predict_labels(net, X[:n]))
    titles = [true + "\n" + pred for true, pred in zip(trues, preds)]
    rows = -(-n // max_cols)
    cols = -(-n // rows)  # as even as the rows allow
    # each image as show_images takes it (display.as_image): (28, 28, 1), (28, 28), (784,)
    return AxesList(show_images(X[:n], rows, cols, titles=titles, save_path=save_path)[:n])
