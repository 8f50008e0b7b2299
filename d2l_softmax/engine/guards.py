"""Checks that wrap any training step, so the chapter's step stays the chapter's.

- :func:`check_labels_first`: a batch whose integer labels are outside the net's
  classes is not trained on (compiled, a gather would pick some class, and the book's
  ``boolean_mask`` loss would drop the row); the pass stops there with a ``ValueError``.
- :func:`refuse_frozen_python_state`: compiled, the step's Python code runs once, when
  it is traced. A trace that changes Python state (an updater's ``self.t += 1``, a
  NumPy or Python random draw) would freeze that change into the program, so the
  trace is refused with a :class:`CompileError` instead of training on silently.
"""

from __future__ import annotations

import functools
import random
import types
from collections.abc import Callable

import numpy as np
import tensorflow as tf


class CompileError(TypeError):
    """The user's net, loss or updater could not be compiled into a TensorFlow program
    that does what running it eagerly does."""


# ---------------------------------------------------------------- labels


def label_error(label: int | None, classes: int, where: str = "") -> ValueError:
    """The one error for a label out of range (``label`` None when it is not known)."""
    what = "a label" if label is None else f"label {label}"
    return ValueError(
        f"{what} is out of range{f' at {where}' if where else ''}: labels must "
        f"be in 0..{classes - 1} for {classes} classes"
    )


def out_of_range(y: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Which integer labels are outside 0..num_classes-1, compared in y's own dtype
    (so that a wide label such as 2**32 + 3 cannot wrap into a valid class)."""
    if num_classes > y.dtype.max:  # every value below 0 is out, none above
        return y < 0
    return (y < 0) | (y >= tf.constant(num_classes, y.dtype))


def check_labels(y: tf.Tensor, num_classes: int) -> tf.Tensor:
    """y as int32 after checking that every label is in 0..num_classes-1.

    The range is checked in y's own dtype, before narrowing to int32 (so a wide
    label such as 2**32 + 3 cannot wrap into a valid class). Run eagerly, an out-of-
    range label raises ``ValueError``; in compiled code, labels of a dtype wider
    than int32 that are out of range become -1, and the loss rejects them: TensorFlow's
    own check in the kernel of ``CrossEntropy.from_logits`` in a plain graph, else a NaN
    loss (under XLA, and in ``CrossEntropy.__call__``), which training reports.
    """
    y = tf.convert_to_tensor(y)
    if not y.dtype.is_integer:
        raise ValueError(f"labels must be integers, got dtype {y.dtype.name}")
    bad = out_of_range(y, num_classes)
    if tf.executing_eagerly():
        if bool(tf.reduce_any(bad)):
            raise label_error(tf.boolean_mask(y, bad)[0].numpy().item(), num_classes)
        return tf.cast(y, tf.int32)
    if y.dtype in (tf.int8, tf.int16, tf.int32, tf.uint8, tf.uint16):
        return tf.cast(y, tf.int32)  # every value survives the cast
    return tf.where(bad, tf.constant(-1, tf.int32), tf.cast(y, tf.int32))


def check_lined_up(what: str, scores: tf.Tensor, y: tf.Tensor) -> None:
    """Scores (B, q) and labels (B,) must line up (checked where the shapes are known)."""
    if scores.shape.rank != 2:
        raise ValueError(f"{what} must be (batch, classes), got shape {tuple(scores.shape)}")
    if y.shape.rank is not None and y.shape.rank != 1:
        raise ValueError(f"labels must be a vector (batch,), got shape {tuple(y.shape)}")
    if not scores.shape[:1].is_compatible_with(y.shape[:1]):
        raise ValueError(
            f"{what} {tuple(scores.shape)} and labels {tuple(y.shape)} "
            "do not line up: one label per row"
        )


def check_labels_first(step: Callable, classes: int | None) -> Callable:
    """``step(X, y) -> (loss, correct, count)`` as ``(loss, correct, count, bad label)``.

    With ``classes`` (the net's number of outputs, for integer labels (B,)), a batch
    with a label outside 0..classes-1 is not stepped on: run eagerly it raises
    ``ValueError``; compiled it gives a NaN loss (the loops stop there) and, in the last
    place, that label (NaN when float32 cannot hold it exactly), which
    :func:`~d2l_softmax.engine.epoch.run_epoch` reports as the same ``ValueError``.
    The last place is 0 for a good batch (0 is never out of range). ``classes`` None
    (labels known to be in range): no check.
    """

    def checked(X, y):
        y = tf.convert_to_tensor(y)
        if classes is None or not y.dtype.is_integer or y.shape.rank != 1:
            return (*step(X, y), tf.constant(0.0))
        bad = out_of_range(y, classes)
        if tf.executing_eagerly():
            if bool(tf.reduce_any(bad)):
                raise label_error(tf.boolean_mask(y, bad)[0].numpy().item(), classes)
            return (*step(X, y), tf.constant(0.0))

        def skip():
            label = y[tf.argmax(tf.cast(bad, tf.int32))]
            exact = label <= tf.constant(min(2**24, y.dtype.max), y.dtype)
            if y.dtype.min < 0:
                exact &= label >= tf.constant(-(2**24), y.dtype)
            nan = tf.constant(float("nan"))
            shown = tf.where(exact, tf.cast(label, tf.float32), nan)
            return nan, tf.constant(0.0), tf.constant(0.0), shown

        def run():
            return (*(tf.cast(v, tf.float32) for v in step(X, y)), tf.constant(0.0))

        return tf.cond(tf.reduce_any(bad), skip, run)

    return checked


# ---------------------------------------------------------------- Python state in a trace

_NUMBERS = (bool, int, float, complex, str, bytes, np.number, type(None))
_RANDOM_STATE = "random generator"  # marks a generator's state among the values


def _state(value):
    """What is compared of one value: numbers by value, random generators by their state."""
    if isinstance(value, _NUMBERS):
        return value
    if isinstance(value, np.random.Generator):
        return _RANDOM_STATE, repr(value.bit_generator.state)
    if isinstance(value, np.random.RandomState):
        return _RANDOM_STATE, repr(value.get_state(legacy=False))
    if isinstance(value, random.Random):
        return _RANDOM_STATE, value.getstate()
    return None


_KERAS_OWN: set = set()  # the attributes TensorFlow's and Keras' own objects set themselves


def _own_attributes(obj) -> dict:
    """An object's attributes, without the private ones of TensorFlow's and Keras' objects
    nor those their base classes set (``built``, ``name``...): their own bookkeeping."""
    attrs = getattr(obj, "__dict__", None)
    if not isinstance(attrs, dict):
        return {}
    if isinstance(
        obj, (tf.Module, tf.keras.layers.Layer, tf.keras.optimizers.Optimizer, tf.keras.losses.Loss)
    ):
        if not _KERAS_OWN:
            for base in (tf.keras.Model, tf.keras.layers.Layer, tf.Module):
                _KERAS_OWN.update(vars(base()))
        return {k: v for k, v in attrs.items() if not k.startswith("_") and k not in _KERAS_OWN}
    return attrs


def _functions_of(obj) -> list:
    """The Python functions whose globals and closures ``obj``'s calls read."""
    if isinstance(obj, functools.partial):
        return _functions_of(obj.func)
    if isinstance(obj, types.MethodType):
        return [obj.__func__]
    if isinstance(obj, types.FunctionType):
        return [obj]
    functions = getattr(obj, "python_function", None)  # a tf.function
    if functions is not None:
        return _functions_of(functions)
    methods = (
        getattr(type(obj), name, None)
        for name in ("__call__", "call", "forward", "logits", "train_step")
    )
    return [
        f
        for f in methods
        if isinstance(f, types.FunctionType)
        and not (f.__module__ or "").startswith(("keras", "tensorflow"))
    ]


@tf.autograph.experimental.do_not_convert  # plain Python, run while a step is traced
def python_state(*objects) -> dict:
    """``{where: state}`` of the Python values a trace of ``objects`` (net, loss,
    updater) can read and change: their attributes, the contents of dicts and lists
    among them, their functions' closures and the globals those functions name (and
    so on through the functions found there, a few calls deep); and NumPy's and
    Python's global random generators."""
    seen: dict = {
        "np.random": (_RANDOM_STATE, repr(np.random.get_state(legacy=False))),
        "random": (_RANDOM_STATE, random.getstate()),
    }
    followed: set = set()

    def record(where, value, depth):
        state = _state(value)
        if state is not None:
            seen[where] = state
        elif isinstance(value, dict) and depth < 2:
            for k, v in list(value.items())[:64]:
                record(f"{where}[{k!r}]", v, depth + 1)
        elif isinstance(value, (list, tuple)) and depth < 2:
            for i, v in enumerate(value[:64]):
                record(f"{where}[{i}]", v, depth + 1)
        elif isinstance(value, (types.FunctionType, functools.partial)):
            follow(value, depth + 1)
        elif depth < 1 and not isinstance(value, (tf.Variable, tf.Tensor, types.ModuleType, type)):
            for k, v in _own_attributes(value).items():
                record(f"{where}.{k}", v, depth + 1)

    def follow(obj, depth):  # the functions obj's calls run, and what they read
        for fn in _functions_of(obj):
            if fn in followed or depth > 3:
                continue
            followed.add(fn)
            code = fn.__code__
            for var, cell in zip(code.co_freevars, fn.__closure__ or ()):
                try:
                    record(var, cell.cell_contents, 0)
                except ValueError:  # an empty cell
                    pass
            for var in code.co_names:
                if var in fn.__globals__ and not isinstance(fn.__globals__[var], type):
                    record(var, fn.__globals__[var], 0)

    for name, obj in zip(("net", "loss", "updater"), objects):
        for k, v in _own_attributes(obj).items():
            record(f"{name}.{k}", v, 0)
        follow(obj, 0)
    return seen


def refuse_frozen_python_state(step: Callable, objects: tuple) -> Callable:
    """``step``, raising :class:`CompileError` when tracing it changed Python state.

    Compiled, only the step's TensorFlow ops run at every batch; its Python code
    runs once, at the trace. A counter it increments or a random number it draws
    in Python would change once and then stay frozen in the program, where the eager
    loop changes it at every batch. Checked at each trace (the only time the step's
    Python runs).
    """

    def traced(*args):
        before = python_state(*objects)
        out = step(*args)
        after = python_state(*objects)
        changed = [k for k in before.keys() & after.keys() if before[k] != after[k]]
        if changed:
            where = sorted(changed)[0]
            drawn = isinstance(before.get(where), tuple) and before[where][0] == _RANDOM_STATE
            cause = (
                f"draws random numbers with NumPy or Python's random module ({where})"
                if drawn
                else f"changes {where} ({before.get(where)!r} -> {after.get(where)!r})"
            )
            raise CompileError(
                f"the net, loss or updater {cause} in Python: compiled, Python code runs "
                "once, when the step is traced, so the same value would be used at every "
                "step. Use TensorFlow for it (tf.random, tf.keras.layers.Dropout, a "
                "tf.Variable for a counter), or pass run_eagerly=True to run the step as "
                "plain Python."
            )
        return out

    return traced
