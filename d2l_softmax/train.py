"""Training: one minibatch step, one epoch, the chapter's loop, and prediction.

``train_epoch_ch3`` runs the step the chapter writes (forward pass, loss,
``tf.GradientTape``, update) but compiles it. For a dataset made by
:func:`load_data_fashion_mnist` the whole epoch is one compiled XLA loop over the
uint8 images held in memory; for any other tf.data dataset the loop over it is
compiled; any other iterable of ``(X, y)`` runs a compiled step per batch.
``run_eagerly=True`` (or ``tf.config.run_functions_eagerly(True)``) runs the same
step as plain Python, for stepping through it with a debugger.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import tensorflow as tf

from .data import ArraySource, array_source, get_fashion_mnist_labels
from .metrics import correct_count
from .plot import Animator, show_images


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: Optional[int], batch: int, value: float):
        where = f"epoch {epoch}, batch {batch}" if epoch else f"batch {batch}"
        super().__init__(
            f"training diverged: the loss became {value} at {where}. Try a smaller "
            "learning rate, and check that the inputs are finite and the labels in range.")
        self.epoch, self.batch = epoch, batch


class CompileError(TypeError):
    """The user's net, loss or updater could not be traced into a TensorFlow graph."""


@dataclass
class History:
    """Per-epoch numbers from :func:`train_ch3`."""
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    interrupted: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- one step

def _batch_size(X: tf.Tensor):
    """The batch size as the book passes it (``X.shape[0]``), a tensor when unknown."""
    return X.shape[0] if X.shape[0] is not None else tf.cast(tf.shape(X)[0], tf.float32)


def _scores(net, loss, X):
    """The net's output, and whether it is logits that ``loss.from_logits`` takes."""
    if hasattr(loss, "from_logits") and callable(getattr(net, "logits", None)):
        return net.logits(X), True
    return net(X), False


def _losses(loss, y_hat, y, from_logits: bool):
    if from_logits:
        return loss.from_logits(y_hat, y)
    if isinstance(loss, tf.keras.losses.Loss):
        return loss(y, y_hat)
    return loss(y_hat, y)


def make_train_step(net, loss, updater) -> Callable:
    """``step(X, y) -> (summed loss, correct count, count)`` doing one update.

    This is the chapter's step: a tape records the forward pass and the loss, and
    the updater applies the gradients. An updater with a ``train_step(X, y)``
    method (:class:`~d2l_softmax.optim.AnalyticUpdater`) computes its own gradient.
    """
    keras_loss = isinstance(loss, tf.keras.losses.Loss)
    keras_optimizer = isinstance(updater, tf.keras.optimizers.Optimizer)

    def step(X, y):
        if hasattr(updater, "train_step"):
            y_hat, l = updater.train_step(X, y)
        else:
            with tf.GradientTape() as tape:
                y_hat, from_logits = _scores(net, loss, X)
                l = _losses(loss, y_hat, y, from_logits)
            if keras_optimizer:
                params = net.trainable_variables
                updater.apply_gradients(zip(tape.gradient(l, params), params))
            else:
                updater(_batch_size(X), tape.gradient(l, updater.params))
        count = tf.cast(tf.size(y), tf.float32)
        l_sum = tf.cast(l, tf.float32) * count if keras_loss else \
            tf.reduce_sum(tf.cast(l, tf.float32))
        return l_sum, correct_count(y_hat, y), count

    return step


def make_eval_step(net) -> Callable:
    def step(X, y):
        return correct_count(net(X), y), tf.cast(tf.size(y), tf.float32)
    return step


# ---------------------------------------------------------------- compiled loops

def _first_bad(out: tf.Tensor, i, bad: tf.Tensor, training: bool) -> tf.Tensor:
    """``bad`` (the index of the first batch with a non-finite loss, or -1) after batch
    ``i`` gave ``out = (loss, ...)``; it stays -1 when evaluating."""
    if not training:
        return bad
    return tf.where((bad < 0) & ~tf.math.is_finite(out[0]), i, bad)


def _fused_loop(step, batch_size: int, *, training: bool) -> Callable:
    """``loop(images, labels, order) -> (sums, bad)`` over in-memory uint8 images.

    The examples are taken in ``order``, cut into batches of ``batch_size``, each
    gathered when its turn comes (no reshuffled copy of the whole set) and scaled
    to [0, 1] here, inside the compiled code. The short batch left over, if any,
    comes first (see :func:`_batch_slices`). ``bad`` is the index of the first batch
    whose loss was not finite (the loop stops there), else -1.
    """
    def loop(images, labels, order):
        tail, full = _batch_slices(int(order.shape[0]), batch_size)
        size = 3 if training else 2

        def run(idx):
            X = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
            return tf.stack(step(X, tf.gather(labels, idx)))

        sums, bad = tf.zeros(size), tf.constant(-1)
        if tail:
            sums = run(order[:tail])
            bad = _first_bad(sums, tf.constant(0), bad, training)
        batches = tf.reshape(order[tail:], (full, batch_size))
        first = 1 if tail else 0  # the number of the first full batch

        def body(i, sums, bad):
            out = run(batches[i])
            return i + 1, sums + out, _first_bad(out, i + first, bad, training)

        _, sums, bad = tf.while_loop(lambda i, sums, bad: (i < full) & (bad < 0), body,
                                     (tf.constant(0), sums, bad))
        return sums, bad

    return loop


def _batch_slices(n: int, batch_size: int) -> tuple[int, int]:
    """``(tail, full)``: the size of the short batch and the number of full ones.

    The training loops run the short batch (``n % batch_size`` examples) first and
    the full ones after it, so that every epoch ends, and is evaluated, after a
    full-size step. A short last step right before the evaluation adds noise:
    with the chapter's recipe (60,000 = 234 x 256 + 96) the final test accuracy
    over 16 seeds was 0.8285 +- 0.0074 with the 96 last and 0.8331 +- 0.0018 first.
    """
    full, tail = divmod(n, batch_size)
    return tail, full


def _dataset_loop(step, *, training: bool) -> Callable:
    """``loop(dataset) -> (sums, bad)``: the same over any tf.data dataset."""
    size = 3 if training else 2

    def loop(dataset):
        sums, bad, i = tf.zeros(size), tf.constant(-1), tf.constant(0)
        for X, y in dataset:
            out = tf.stack(step(X, y))
            sums += out
            if training and not tf.math.is_finite(out[0]):
                bad = i
                break
            i += 1
        return sums, bad

    return loop


class _Compiled:
    """A loop compiled with XLA when it can be, else as a plain TensorFlow graph.

    ``make(jit, autograph)`` returns the ``tf.function``. It is first traced without
    AutoGraph (the package's loops use ``tf.while_loop`` themselves, and converting
    the code costs start-up time); a net or loss with Python control flow on tensor
    values gets AutoGraph on a second try. When XLA cannot compile it, it is made
    again without XLA, unless ``jit_compile=True`` insists. Tracing and compiling
    fail before anything runs, so no step is done twice.
    """

    def __init__(self, make: Callable[[bool, bool], Callable], what: str,
                 jit_compile: Optional[bool]):
        self.make, self.what = make, what
        self.jit, self.strict = jit_compile is not False, jit_compile is True
        self.autograph = False
        self.fn = make(self.jit, self.autograph)

    def __call__(self, *args):
        while True:
            try:
                return self.fn(*args)
            except tf.errors.OperatorNotAllowedInGraphError as err:
                if self.autograph:
                    raise self._compile_error(err) from err
                self.autograph = True
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as err:
                if not self.jit or self.strict or "XLA" not in str(err):
                    raise
                warnings.warn(f"XLA could not compile the {self.what}; using a plain graph "
                              f"instead ({str(err).splitlines()[0]})", stacklevel=3)
                self.jit = False
            except (tf.errors.OpError, FloatingPointError, AssertionError, ValueError):
                raise
            except Exception as err:
                raise self._compile_error(err) from err
            self.fn = self.make(self.jit, self.autograph)

    def _compile_error(self, err: Exception) -> "CompileError":
        return CompileError(
            f"could not compile the {self.what} for this net, loss and updater: "
            f"{type(err).__name__}: {err}\nThey must be TensorFlow code (no .numpy() or "
            "Python branching on tensor values). Pass run_eagerly=True to run the step "
            "as plain Python instead.")


_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()


def _compiled(kind: str, objects: tuple, make: Callable[[bool, bool], Callable], what: str,
              jit_compile: Optional[bool]) -> _Compiled:
    """One compiled loop per (kind, net, loss, updater), reused across epochs."""
    key = (kind, jit_compile) + tuple(id(o) for o in objects)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key][1]
    fn = _Compiled(make, what, jit_compile)
    _CACHE[key] = (objects, fn)  # holding the objects keeps their ids unique
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return fn


def _eager_epoch(step, batches: Iterable, *, training: bool, epoch: Optional[int],
                 stop: Optional[threading.Event] = None):
    """Sums over batches, step by step in Python; stops at once on a non-finite loss."""
    sums = np.zeros(3 if training else 2)
    for i, (X, y) in enumerate(batches):
        out = np.array([float(v) for v in step(X, y)])
        if training and not math.isfinite(out[0]):
            raise TrainingDivergedError(epoch, i + 1, out[0])
        sums += out
        if stop is not None and stop.is_set():
            break
    return sums


def _accumulating(step, *, training: bool) -> Callable:
    """``step(X, y, sums, bad, i) -> (sums, bad)``: one step that adds its numbers to
    the running sums, so that a Python loop of compiled steps never waits for them."""
    def accumulate(X, y, sums, bad, i):
        out = tf.stack(step(X, y))
        return sums + out, _first_bad(out, i, bad, training)
    return accumulate


def _step_loop(step, batches: Iterable, *, training: bool, stop=None):
    """``(sums, bad)`` over any iterable, one compiled ``_accumulating`` step a batch."""
    sums, bad = tf.zeros(3 if training else 2), tf.constant(-1)
    for i, (X, y) in enumerate(batches):
        sums, bad = step(X, y, sums, bad, tf.constant(i))
        if stop is not None and stop.is_set():
            break
    return sums, bad


def _source_batches(source: ArraySource, order: tf.Tensor):
    """The batches the compiled loop sees, in its order, as Python iterates them."""
    tail, full = _batch_slices(int(order.shape[0]), source.batch_size)
    bounds = ([0] if tail else []) + [tail + i * source.batch_size for i in range(full + 1)]
    for start, end in zip(bounds, bounds[1:]):
        idx = order[start:end]
        yield (tf.cast(tf.gather(source.images, idx), tf.float32) / 255.0,
               tf.gather(source.labels, idx))


def _warm_up(net, updater, data_iter) -> None:
    """Build a Keras model and optimizer eagerly: variables cannot be created in a loop."""
    if not isinstance(net, tf.keras.Model) or (net.built and not isinstance(
            updater, tf.keras.optimizers.Optimizer)):
        return
    if not net.built:
        source = array_source(data_iter)
        X = tf.cast(source.images[:1], tf.float32) / 255.0 if source else next(iter(data_iter))[0]
        net(X)
    if isinstance(updater, tf.keras.optimizers.Optimizer) and not updater.built:
        updater.build(net.trainable_variables)


def _run_epoch(step, objects, data_iter, *, training: bool, run_eagerly: bool,
               jit_compile: Optional[bool], epoch: Optional[int], stop=None):
    """Sums over one pass: (loss, correct, count) when training, else (correct, count)."""
    source = array_source(data_iter)
    kind = "training epoch" if training else "evaluation"
    if run_eagerly or tf.config.functions_run_eagerly():
        batches = _source_batches(source, source.order()) if source else data_iter
        return _eager_epoch(step, batches, training=training, epoch=epoch, stop=stop)
    if source is not None:
        loop = _compiled(
            "fused", objects + (source.batch_size,),
            lambda jit, autograph: tf.function(
                _fused_loop(step, source.batch_size, training=training),
                jit_compile=jit, autograph=autograph), kind, jit_compile)
        sums, bad = loop(source.images, source.labels, source.order())
    elif isinstance(data_iter, tf.data.Dataset):
        loop = _compiled(
            "dataset", objects,
            lambda jit, autograph: tf.function(_dataset_loop(
                tf.function(step, jit_compile=jit, autograph=autograph), training=training)),
            kind, jit_compile)
        sums, bad = loop(data_iter)
    else:
        step_fn = _compiled("step", objects, lambda jit, autograph: tf.function(
            _accumulating(step, training=training), jit_compile=jit, autograph=autograph,
            reduce_retracing=True), kind, jit_compile)
        sums, bad = _step_loop(step_fn, data_iter, training=training, stop=stop)
    sums, bad = sums.numpy().astype(np.float64), int(bad)
    if bad >= 0:
        raise TrainingDivergedError(epoch, bad + 1, float("nan"))
    return sums


def cache_compiled_programs(folder=None) -> Optional[Path]:
    """Keep the XLA-compiled loops on disk, so that later processes skip compiling.

    Compiling the chapter's training epoch takes about 0.4 s on a 2-core CPU; with
    the cache a later run loads it instead. The cache is keyed by the program, so a
    changed net or batch size compiles anew. ``folder`` defaults to
    ``$XDG_CACHE_HOME/d2l_softmax/xla`` (``~/.cache/...``) and may be deleted at any
    time. TensorFlow reads the setting once, at the first XLA compilation of the
    process, so call this before training. Returns the folder, or None when
    ``TF_XLA_FLAGS`` already names a cache or the folder cannot be used.
    """
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tf_xla_persistent_cache_directory" in flags:
        return None
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "d2l_softmax" / "xla"
    folder = Path(folder)
    if any(c.isspace() for c in str(folder)):  # TF_XLA_FLAGS is split on whitespace
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()
    return folder


def train_epoch_ch3(net, train_iter, loss, updater, *, run_eagerly: bool = False,
                    jit_compile: Optional[bool] = None, _epoch: Optional[int] = None,
                    _stop=None) -> tuple[float, float]:
    """Train ``net`` for one pass over ``train_iter``; return (mean loss, mean accuracy).

    ``loss``: a per-example function ``loss(y_hat, y)`` or a ``tf.keras.losses.Loss``;
    ``updater``: an :class:`~d2l_softmax.optim.Updater` (anything with ``params`` and
    ``updater(batch_size, grads)``) or a ``tf.keras.optimizers.Optimizer``.
    ``jit_compile``: None tries XLA and falls back to a plain graph, True insists,
    False never uses it.
    """
    _warm_up(net, updater, train_iter)
    step = make_train_step(net, loss, updater)
    loss_sum, correct, count = _run_epoch(step, (net, loss, updater), train_iter, training=True,
                                          run_eagerly=run_eagerly, jit_compile=jit_compile,
                                          epoch=_epoch, stop=_stop)
    if count == 0:
        raise ValueError("train_iter yielded no examples")
    if not math.isfinite(loss_sum):
        raise TrainingDivergedError(_epoch, -1, loss_sum)
    return loss_sum / count, correct / count


def compiled_accuracy(net, data_iter, *, run_eagerly: bool = False,
                      jit_compile: Optional[bool] = None) -> float:
    """The fraction of ``data_iter`` that ``net`` classifies correctly.

    ``jit_compile=None`` compiles a plain graph here, not XLA: one pass over the
    test set is a few milliseconds either way, and the plain graph compiles in about
    a third of the time (XLA pays off in training, where the step is repeated).
    """
    _warm_up(net, None, data_iter)
    correct, count = _run_epoch(make_eval_step(net), (net,), data_iter, training=False,
                                run_eagerly=run_eagerly, jit_compile=bool(jit_compile),
                                epoch=None)
    if count == 0:
        raise ValueError("data_iter yielded no examples")
    return correct / count


# ---------------------------------------------------------------- the chapter's loop

class _StopOnInterrupt:
    """While active, the first Ctrl-C asks training to stop after the current batch
    (or compiled epoch); a second one interrupts at once."""

    def __init__(self):
        self.event = threading.Event()
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum, frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _set_lr(updater, lr: float) -> None:
    if isinstance(updater, tf.keras.optimizers.Optimizer):
        updater.learning_rate = lr
    else:
        updater.lr = lr


def _check_epochs(num_epochs) -> int:
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, (int, np.integer)) \
            or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    return int(num_epochs)


def train_ch3(net, train_iter, test_iter, loss, num_epochs: int, updater, *,
              run_eagerly: bool = False, jit_compile: Optional[bool] = None,
              animator: Optional[Animator] = None, plot_path=None, check: bool = True,
              verbose: bool = True, lr_schedule: Optional[Callable[[int], float]] = None
              ) -> History:
    """Train ``net`` for ``num_epochs``, drawing loss and accuracies as it goes.

    Takes what :func:`train_epoch_ch3` takes. The book's sanity checks follow
    (``check=True``): final train loss < 0.5 and both accuracies in (0.7, 1];
    they raise ``AssertionError``. Returns the per-epoch :class:`History`.
    In a terminal the figure is saved to ``plot_path`` (or a printed temporary
    path) instead of being shown. ``lr_schedule(epoch)`` sets the updater's learning
    rate before each epoch (see :func:`~d2l_softmax.optim.cosine_schedule`). A first Ctrl-C stops after the current batch or
    compiled epoch and returns the history so far, with ``interrupted=True``.
    """
    num_epochs = _check_epochs(num_epochs)
    if animator is None:
        animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                            legend=["train loss", "train acc", "test acc"],
                            save_path=plot_path, verbose=verbose)
    history = History()
    epochs = range(1, num_epochs + 1)
    if verbose and not animator.live:  # a progress bar in the terminal; Jupyter has the plot
        from tqdm.auto import tqdm
        epochs = tqdm(epochs, desc="training", unit="epoch", leave=False, file=sys.stdout,
                      disable=None)  # None: no bar when the output is not a terminal
    with _StopOnInterrupt() as stop:
        for epoch in epochs:
            if lr_schedule is not None:
                _set_lr(updater, lr_schedule(epoch))
            start = time.perf_counter()
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater,
                                            run_eagerly=run_eagerly, jit_compile=jit_compile,
                                            _epoch=epoch, _stop=stop)
            test_acc = compiled_accuracy(net, test_iter, run_eagerly=run_eagerly,
                                         jit_compile=jit_compile)
            history.epoch_seconds.append(time.perf_counter() - start)
            for name, value in zip(("train_loss", "train_acc", "test_acc"),
                                   train_metrics + (test_acc,)):
                getattr(history, name).append(float(value))
            animator.add(epoch, train_metrics + (test_acc,))
            if stop.is_set():
                history.interrupted = True
                if verbose:
                    print(f"Training interrupted after epoch {epoch}; the parameters and "
                          "history so far are kept.")
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


def predict_ch3(net, test_iter, n: int = 6, *, save_path=None):
    """Show the first ``n`` test images titled "true\\npredicted"; return the axes."""
    for X, y in test_iter:
        break
    n = min(n, int(X.shape[0]))
    trues = get_fashion_mnist_labels(y[:n])
    preds = get_fashion_mnist_labels(predict_labels(net, X[:n]))
    titles = [true + "\n" + pred for true, pred in zip(trues, preds)]
    return show_images(X[:n, :, :, 0], 1, n, titles=titles, save_path=save_path)
