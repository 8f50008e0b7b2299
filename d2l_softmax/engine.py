"""The compiled engine: runs a training or evaluation step over a whole epoch, fast.

:mod:`d2l_softmax.train` writes the chapter's step (forward pass, loss, tape,
update) and hands it to :func:`run_epoch`, which picks the fastest loop the data
allows. A reader who skips this module still understands training completely:
the loops here only decide *how* the same step is repeated.

The loops themselves, one per kind of data, are in :mod:`d2l_softmax.loops`.

How to compile (:func:`use_xla`): a plain TensorFlow graph, unless the run is long
enough to pay back XLA's compile time. Measured on a 2-core CPU from a cold start
(``python benchmarks/bench.py``, eleven runs), XLA compiles 0.5-1.0 s longer than the
graph for the package's model and saves 0.02-0.05 s an epoch of the chapter's recipe:
it pays back after 10-36 epochs (2,400-8,400 steps). For the chapter's own code (its
naive softmax and ``boolean_mask`` cross-entropy) XLA compiles 0.9-3 s longer and
pays back after 21-43 epochs, or never. The next chapters' nets (three runs): Keras
``Dense`` after 13-15 epochs, the MLP from scratch after 12-18, the Keras MLP after 11-28.
The threshold follows the chapter's own code. Results agree either way to float rounding,
and a run's path depends only on its length, so a seeded run repeats bit for bit.
"""
from __future__ import annotations

import contextlib
import itertools
import random
import re
import warnings
from collections import OrderedDict
from contextvars import ContextVar
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from . import quiet
from .data import array_source, scale_pixels
from .fashion_mnist import NUM_CLASSES
from .loops import (TrainingDivergedError, accumulating, dataset_loop, eager_loop, fused_loop,
                    source_batches, step_loop)
from .metrics import label_error
from .python_state import python_state


class CompileError(TypeError):
    """The user's net, loss or updater could not be traced into a TensorFlow graph."""


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
    flow on tensor values gets AutoGraph on a second try. A loop that hides the batch
    size (``hides_batch_size``: the fused loop in a plain graph, the tf.data loop; the
    per-batch step from its relaxed second trace on) is made again with it known
    (``static_shapes``) when the net needs it (``X.shape[0]`` used as a number): the
    first trace with it known counts (``static``), as under XLA. When XLA
    cannot compile the loop, it is made again without XLA, unless ``xla=True``
    insists. Tracing and compiling fail before anything runs, so no step is done twice.
    A graph tensor used as a Python value (``.numpy()``, ``int(X[0])``) raises
    :class:`CompileError`; any other error in the code is raised as it is.
    """

    def __init__(self, make: Callable[[bool, bool, bool], Callable], what: str,
                 xla: Optional[bool], *, hides_batch_size: bool = False, static: bool = False):
        self.make, self.what, self.hides_batch_size = make, what, hides_batch_size
        self.jit, self.strict = xla is not False, xla is True
        self.autograph, self.static, self.ran = False, static, False
        self.fn = make(self.jit, self.autograph, self.static)

    def __call__(self, *args):
        while True:
            try:
                out = self.fn(*args)
                self.ran = True
                return out
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
            except (tf.errors.OpError, CompileError):
                raise
            except Exception as err:
                if not self.static and (self.hides_batch_size or self.ran):
                    self.static = True  # perhaps the net needs to know the batch size
                elif "symbolic" in str(err).lower():  # a graph's tensor used as a value
                    raise self._compile_error(err) from err
                else:  # a mistake in the code itself, which running it eagerly would meet too
                    raise
            self.fn = self.make(self.jit, self.autograph, self.static)

    def _compile_error(self, err: Exception) -> CompileError:
        return CompileError(
            f"could not compile the {self.what} for this net, loss and updater: "
            f"{type(err).__name__}: {err}\nThey must be TensorFlow code (no .numpy() or "
            "Python branching on tensor values). Pass run_eagerly=True to run the step "
            "as plain Python instead.")


def _python_randomness() -> tuple:
    """Where NumPy's and Python's global random generators stand."""
    state = np.random.get_state(legacy=False)
    return random.getstate(), state["state"]["key"].tobytes(), state["state"]["pos"]


def no_frozen_randomness(step: Callable) -> Callable:
    """``step``, refusing to be traced if it draws NumPy's or Python's random numbers.

    A compiled program runs the step's TensorFlow ops only: a number drawn in Python
    while tracing (``np.random.uniform`` for a dropout mask) is baked in, and every
    batch and every epoch would get the same one, where the eager loop draws anew.
    The check runs at tracing time only (a compiled step's Python runs only then).
    """
    def traced(*args, **kwargs):
        before = _python_randomness()
        out = step(*args, **kwargs)
        if _python_randomness() != before:
            raise CompileError(
                "the net, loss or updater draws random numbers with NumPy or Python's random "
                "module: compiled, the same numbers would come back at every step. Draw them "
                "with TensorFlow (tf.random.uniform, tf.keras.layers.Dropout), or pass "
                "run_eagerly=True to run the step as plain Python.")
        return out
    return traced


_PROGRAMS: "OrderedDict[tuple, tuple]" = OrderedDict()
_RUN: ContextVar[Optional[object]] = ContextVar("d2l_softmax_run", default=None)


@contextlib.contextmanager
def one_run():
    """A run (``train_ch3``'s epochs): a program whose Python state could not be
    fingerprinted whole is reused within it, where nothing else changes that state,
    and made anew in the next (see :mod:`~d2l_softmax.python_state`)."""
    token = _RUN.set(object())
    try:
        yield
    finally:
        _RUN.reset(token)


def compiled(kind: str, objects: tuple, make: Callable[[bool, bool, bool], Callable], what: str,
             xla: Optional[bool], **shapes) -> Compiled:
    """One compiled loop per (kind, net, loss, updater), reused across epochs while the
    Python state it baked in is the same (:func:`~d2l_softmax.python_state.python_state`:
    new ``W`` and ``b`` under the same names, or a new ``lr`` float, get a new program;
    a state it cannot see whole, only within one run, :func:`one_run`)."""
    state, kept, complete = python_state(*objects)
    # incomplete: reused only within this run (a call outside any run is one of its own)
    key = (kind, xla, state) if complete else (kind, xla, state, _RUN.get() or object())
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key][-1]
    fn = Compiled(make, what, xla, **shapes)  # shapes: as Compiled takes them
    _PROGRAMS[key] = (objects, kept, fn)  # holding what the key counts by id keeps ids unique
    while len(_PROGRAMS) > 16:
        _PROGRAMS.popitem(last=False)
    return fn


def first_batch(data_iter) -> Optional[tuple]:
    """The first batch ``(X, y)`` that iterating ``data_iter`` gives, or None when it
    has none. A dataset made by the loader gives it from its arrays directly, the same
    batch (see :func:`~d2l_softmax.loops.source_batches`), without starting a tf.data
    iterator for one batch (0.04-0.08 s in a fresh process)."""
    source = array_source(data_iter)
    for X, y in source_batches(source, source.order()) if source else data_iter:
        return X, y
    return None


def warm_up(net, updater, data_iter):
    """Build a Keras model and optimizer eagerly: variables cannot be created in a loop.

    The model is built on one example: zeros shaped as a tf.data dataset's elements
    (no batch is read, so no pass, and no reshuffle, is spent), the loader's first
    image, or the first batch of any other iterable. Returns ``data_iter`` to iterate
    then: for such an iterable, that batch followed by the rest of the same iterator,
    so a one-shot iterable (a generator, a stream) loses nothing."""
    keras_optimizer = isinstance(updater, tf.keras.optimizers.Optimizer)
    if not isinstance(net, tf.keras.Model) or (net.built and not keras_optimizer):
        return data_iter
    if not net.built:
        source = array_source(data_iter)
        spec = data_iter.element_spec[0] if isinstance(data_iter, tf.data.Dataset) else None
        if source is not None:
            X = scale_pixels(source.images[:1])
        elif isinstance(spec, tf.TensorSpec) and spec.shape[1:].is_fully_defined():
            X = tf.zeros([1, *spec.shape[1:]], spec.dtype)
        else:
            batches = iter(data_iter)
            first = next(batches, None)
            if first is None:  # no examples: run_epoch says so
                return data_iter
            data_iter, X = itertools.chain([first], batches), first[0]
        net(X)
    if keras_optimizer and not getattr(updater, "built", getattr(updater, "_built", True)):
        updater.build(net.trainable_variables)
    return data_iter


# ---------------------------------------------------------------- one epoch

def run_epoch(step, objects: tuple, data_iter, *, training: bool, run_eagerly: bool = False,
              jit_compile: Optional[bool] = None, run_steps: Optional[int] = None,
              epoch: Optional[int] = None) -> np.ndarray:
    """Sums over one pass of ``step``: (loss, correct, count) when training, else
    (correct, count), as float64. ``objects`` (net, loss, updater) key the compiled
    program; ``jit_compile`` and ``run_steps`` (the whole run's steps, when known)
    choose how it is compiled (:func:`use_xla`). A non-finite training loss raises
    :class:`TrainingDivergedError`."""
    quiet.start_xla()  # before the first compile (a no-op after the first call)
    source = array_source(data_iter)
    xla = use_xla(jit_compile, run_steps)
    kind = "training epoch" if training else "evaluation"
    try:
        if run_eagerly or tf.config.functions_run_eagerly():
            batches = source_batches(source, source.order()) if source else data_iter
            return eager_loop(step, batches, training=training, epoch=epoch)
        sums, bad = _compiled_pass(step, objects, data_iter, source, training, kind, xla)
    except tf.errors.InvalidArgumentError as err:  # a Keras loss's kernel met a bad label
        raise _label_error(err) or err
    if bad >= 0:
        classes = getattr(step, "classes", None)
        if sums[1] == -np.inf and classes is not None:  # marked by the step
            where = f"epoch {epoch}, batch {bad + 1}" if epoch else f"batch {bad + 1}"
            raise label_error(None, classes, where)
        raise TrainingDivergedError(epoch, bad + 1, float("nan"))
    return sums


_OUT_OF_RANGE = re.compile(r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")


def _label_error(err: tf.errors.InvalidArgumentError) -> Optional[ValueError]:
    """The ``ValueError`` the eager path gives for a label out of range, when that is what
    TensorFlow's loss kernel rejected (a wide label mapped to -1 shows as "a label")."""
    found = _OUT_OF_RANGE.search(err.message or "")
    if found is None:
        return None
    label, classes = int(found.group(1)), int(found.group(2))
    return label_error(label if label >= 0 else None, classes)


def _compiled_pass(step, objects, data_iter, source, training, kind, xla):
    """(sums, index of the first bad batch or -1) of one compiled pass."""
    step = no_frozen_randomness(step)
    if source is not None:
        loop = compiled("fused", objects + (source.batch_size, source.short_first),
                        lambda jit, autograph, static:
                        tf.function(fused_loop(step, source.batch_size, training=training,
                                               short_first=source.short_first,
                                               static_shapes=static,
                                               labels_below=NUM_CLASSES),  # checked when read
                                    jit_compile=jit, autograph=autograph), kind, xla,
                        hides_batch_size=True, static=xla is not False)  # XLA: shapes known
        sums, bad = loop(source.images, source.labels, source.order())
    elif isinstance(data_iter, tf.data.Dataset):
        def make(jit, autograph, static):
            if not static:  # the whole pass as one program, batch size unknown
                return tf.function(dataset_loop(
                    tf.function(step, jit_compile=jit, autograph=autograph), training=training))
            one_step = tf.function(accumulating(step, training=training), jit_compile=jit,
                                   autograph=autograph)  # one trace per batch shape
            return lambda dataset: step_loop(one_step, dataset, training=training)
        loop = compiled("dataset", objects, make, kind, xla, hides_batch_size=True)
        sums, bad = loop(data_iter)
    else:  # a second batch shape gets a trace with the batch size unknown (reduce_retracing)
        one_step = compiled("step", objects, lambda jit, autograph, static: tf.function(
            accumulating(step, training=training), jit_compile=jit, autograph=autograph,
            reduce_retracing=not static), kind, xla)
        sums, bad = step_loop(one_step, data_iter, training=training)
    return sums.numpy().astype(np.float64), int(bad)
