"""The compiled engine: runs a training or evaluation step over a whole epoch, fast.

:mod:`d2l_softmax.train` writes the chapter's step (forward pass, loss, tape,
update) and hands it to :func:`run_epoch`, which picks the fastest loop the data
allows. A reader who skips this module still understands training completely:
the loops here only decide *how* the same step is repeated.

- A dataset made by :func:`~d2l_softmax.data.load_data_fashion_mnist` (found with
  :func:`~d2l_softmax.data.array_source`): one compiled loop over the uint8 images
  held in memory, gathering each batch by index (:func:`fused_loop`).
- Any other ``tf.data.Dataset``: the loop over it is compiled (:func:`dataset_loop`).
- Any other iterable of ``(X, y)``: one compiled step per batch (:func:`step_loop`).
- ``run_eagerly=True``: the step as plain Python, batch by batch (:func:`eager_loop`).

A step returns a vector of sums, ``(loss, correct, count)`` when training and
``(correct, count)`` when evaluating; the loops add them up on the device.

How to compile (:func:`use_xla`): a plain TensorFlow graph, unless the run is long
enough to pay back XLA's compile time. Measured on a 2-core CPU from a cold start
(``python benchmarks/bench.py``, six runs), XLA compiles 0.5-1.0 s longer than the
graph for the package's model and saves 0.03-0.05 s an epoch of the chapter's recipe:
it pays back after 10-36 epochs (2,400-8,400 steps). For the chapter's own code (its
naive softmax and ``boolean_mask`` cross-entropy) XLA compiles 0.9-3 s longer and
pays back after 21-43 epochs, or never. Results agree either way to float rounding, and a
run's path depends only on its length, so a seeded run repeats bit for bit.
"""
from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from typing import Callable, Iterable, Optional

import numpy as np
import tensorflow as tf

from .data import ArraySource, array_source, batch_bounds, scale_pixels


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


def _first_bad(out: tf.Tensor, i, bad: tf.Tensor, training: bool) -> tf.Tensor:
    """``bad`` (the index of the first batch with a non-finite loss, or -1) after batch
    ``i`` gave ``out = (loss, ...)``; it stays -1 when evaluating."""
    if not training:
        return bad
    return tf.where((bad < 0) & ~tf.math.is_finite(out[0]), i, bad)


# ---------------------------------------------------------------- the loops

def fused_loop(step, batch_size: int, *, training: bool, static_shapes: bool = False) -> Callable:
    """``loop(images, labels, order) -> (sums, bad)`` over in-memory uint8 images.

    The examples are taken in ``order`` (N,) and cut as :func:`batch_bounds` says
    (the short batch first); each batch is gathered when its turn comes (no
    reshuffled copy of the whole set) and scaled to [0, 1] here, inside the
    compiled code. ``bad`` is the index of the first batch whose loss was not
    finite (the loop stops there), else -1.

    Every batch, the short one too, goes through one copy of the step, traced and
    optimized once, its batch size unknown to the graph. XLA must know every shape
    (``static_shapes``): there the short batch gets a copy of the step of its own.
    """
    size = 3 if training else 2

    def loop(images, labels, order):
        def run(idx):  # one step on the examples order[idx]
            X = scale_pixels(tf.gather(images, idx))
            return tf.stack(step(X, tf.gather(labels, idx)))

        n = tf.size(order)
        count = (n + batch_size - 1) // batch_size  # batches in the pass
        first = n - (count - 1) * batch_size        # the size of the first, short one
        sums, bad, k = tf.zeros(size), tf.constant(-1), tf.constant(0)
        if static_shapes:
            tail = int(order.shape[0]) % batch_size
            if tail:
                sums = run(order[:tail])
                bad, k = _first_bad(sums, k, bad, training), k + 1
            if int(order.shape[0]) < batch_size:  # the short batch was all
                return sums, bad
            full = tf.reshape(order[tail:], (-1, batch_size))  # a row per full batch

            def batch(k):
                return full[k - 1 if tail else k]
        else:
            def batch(k):
                return order[tf.maximum(first + (k - 1) * batch_size, 0):first + k * batch_size]

        def body(k, sums, bad):
            out = run(batch(k))
            return k + 1, sums + out, _first_bad(out, k, bad, training)

        _, sums, bad = tf.while_loop(lambda k, sums, bad: (k < count) & (bad < 0), body,
                                     (k, sums, bad))
        return sums, bad

    return loop


def dataset_loop(step, *, training: bool) -> Callable:
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


def accumulating(step, *, training: bool) -> Callable:
    """``step(X, y, sums, bad, i) -> (sums, bad)``: one step that adds its numbers to
    the running sums, so that a Python loop of compiled steps never waits for them."""
    def accumulate(X, y, sums, bad, i):
        out = tf.stack(step(X, y))
        return sums + out, _first_bad(out, i, bad, training)
    return accumulate


def step_loop(step, batches: Iterable, *, training: bool, stop=None):
    """``(sums, bad)`` over any iterable, one compiled :func:`accumulating` step a batch."""
    sums, bad = tf.zeros(3 if training else 2), tf.constant(-1)
    for i, (X, y) in enumerate(batches):
        sums, bad = step(X, y, sums, bad, tf.constant(i))
        if stop is not None and stop.is_set():
            break
    return sums, bad


def eager_loop(step, batches: Iterable, *, training: bool, epoch: Optional[int],
               stop: Optional[threading.Event] = None) -> np.ndarray:
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


def source_batches(source: ArraySource, order: tf.Tensor):
    """The batches the fused loop sees, in its order, as Python iterates them."""
    for start, end in batch_bounds(int(order.shape[0]), source.batch_size, short_first=True):
        idx = order[start:end]
        yield (scale_pixels(tf.gather(source.images, idx)),
               tf.gather(source.labels, idx))


# ---------------------------------------------------------------- compiling

# Runs shorter than this many training steps compile a plain graph: XLA's extra
# compile time would not be paid back (see the module docstring). 6,000 steps are
# 26 epochs of the chapter's recipe (batch 256).
XLA_MIN_STEPS = 6_000


def use_xla(jit_compile: Optional[bool], run_steps: Optional[int]) -> Optional[bool]:
    """How to compile: False (a plain graph), True (XLA, insisted on) or None (XLA,
    falling back to a graph when XLA cannot compile the step).

    ``jit_compile`` None leaves it to the run's length: XLA only when the run is known
    to take at least :data:`XLA_MIN_STEPS` steps (``run_steps``), else a plain graph.
    """
    if jit_compile is not None:
        return jit_compile
    return None if run_steps is not None and run_steps >= XLA_MIN_STEPS else False


def steps_per_epoch(data_iter) -> Optional[int]:
    """The number of batches in one pass, when it is known without iterating (the
    loader's datasets declare theirs)."""
    try:
        return len(data_iter)
    except TypeError:  # unknown or infinite length
        return None


class Compiled:
    """A loop compiled as a plain TensorFlow graph, or with XLA (see :func:`use_xla`).

    ``make(jit, autograph, static_shapes)`` returns the ``tf.function``. It is first
    traced without AutoGraph (the loops here use ``tf.while_loop`` themselves, and
    converting the code costs start-up time); a net or loss with Python control
    flow on tensor values gets AutoGraph on a second try. A plain graph is first
    traced with the batch size unknown, and again with it known when the net needs
    it (``X.shape[0]`` used as a number). When XLA cannot compile the loop, it is
    made again without XLA, unless ``xla=True`` insists. Tracing and compiling fail
    before anything runs, so no step is done twice.
    """

    def __init__(self, make: Callable[[bool, bool, bool], Callable], what: str,
                 xla: Optional[bool]):
        self.make, self.what = make, what
        self.jit, self.strict = xla is not False, xla is True
        self.autograph, self.static = False, self.jit
        self.fn = make(self.jit, self.autograph, self.static)

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
            except tf.errors.OpError:
                raise
            except Exception as err:
                if not self.static:  # perhaps the net needs to know the batch size
                    self.static = True
                elif isinstance(err, (FloatingPointError, AssertionError, ValueError)):
                    raise
                else:
                    raise self._compile_error(err) from err
            self.fn = self.make(self.jit, self.autograph, self.static)

    def _compile_error(self, err: Exception) -> CompileError:
        return CompileError(
            f"could not compile the {self.what} for this net, loss and updater: "
            f"{type(err).__name__}: {err}\nThey must be TensorFlow code (no .numpy() or "
            "Python branching on tensor values). Pass run_eagerly=True to run the step "
            "as plain Python instead.")


_PROGRAMS: "OrderedDict[tuple, tuple]" = OrderedDict()


def compiled(kind: str, objects: tuple, make: Callable[[bool, bool, bool], Callable], what: str,
             xla: Optional[bool]) -> Compiled:
    """One compiled loop per (kind, net, loss, updater), reused across epochs."""
    key = (kind, xla) + tuple(id(o) for o in objects)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key][1]
    fn = Compiled(make, what, xla)
    _PROGRAMS[key] = (objects, fn)  # holding the objects keeps their ids unique
    while len(_PROGRAMS) > 16:
        _PROGRAMS.popitem(last=False)
    return fn


def warm_up(net, updater, data_iter) -> None:
    """Build a Keras model and optimizer eagerly: variables cannot be created in a loop."""
    keras_optimizer = isinstance(updater, tf.keras.optimizers.Optimizer)
    if not isinstance(net, tf.keras.Model) or (net.built and not keras_optimizer):
        return
    if not net.built:
        source = array_source(data_iter)
        X = scale_pixels(source.images[:1]) if source else next(iter(data_iter))[0]
        net(X)
    if keras_optimizer and not getattr(updater, "built", getattr(updater, "_built", True)):
        updater.build(net.trainable_variables)


# ---------------------------------------------------------------- one epoch

def run_epoch(step, objects: tuple, data_iter, *, training: bool, run_eagerly: bool = False,
              jit_compile: Optional[bool] = None, run_steps: Optional[int] = None,
              epoch: Optional[int] = None, stop: Optional[threading.Event] = None) -> np.ndarray:
    """Sums over one pass of ``step``: (loss, correct, count) when training, else
    (correct, count), as float64. ``objects`` (net, loss, updater) key the compiled
    program; ``jit_compile`` and ``run_steps`` (the whole run's steps, when known)
    choose how it is compiled (:func:`use_xla`). A non-finite training loss raises
    :class:`TrainingDivergedError`."""
    source = array_source(data_iter)
    xla = use_xla(jit_compile, run_steps)
    kind = "training epoch" if training else "evaluation"
    if run_eagerly or tf.config.functions_run_eagerly():
        batches = source_batches(source, source.order()) if source else data_iter
        return eager_loop(step, batches, training=training, epoch=epoch, stop=stop)
    if source is not None:
        loop = compiled("fused", objects + (source.batch_size,), lambda jit, autograph, static:
                        tf.function(fused_loop(step, source.batch_size, training=training,
                                               static_shapes=static),
                                    jit_compile=jit, autograph=autograph), kind, xla)
        sums, bad = loop(source.images, source.labels, source.order())
    elif isinstance(data_iter, tf.data.Dataset):
        loop = compiled("dataset", objects, lambda jit, autograph, _: tf.function(dataset_loop(
            tf.function(step, jit_compile=jit, autograph=autograph), training=training)),
            kind, xla)
        sums, bad = loop(data_iter)
    else:
        one_step = compiled("step", objects, lambda jit, autograph, _: tf.function(
            accumulating(step, training=training), jit_compile=jit, autograph=autograph,
            reduce_retracing=True), kind, xla)
        sums, bad = step_loop(one_step, data_iter, training=training, stop=stop)
    sums, bad = sums.numpy().astype(np.float64), int(bad)
    if bad >= 0:
        raise TrainingDivergedError(epoch, bad + 1, float("nan"))
    return sums
