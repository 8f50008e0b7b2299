"""The Python state that a compiled program has baked in, so that a stale one is not reused.

Tracing runs the user's net, loss and updater once, in Python: the variables they
find by name (the chapter's ``net`` reads the globals ``W`` and ``b``) and the Python
numbers they use (the book's ``Updater`` keeps ``lr`` as a float) are fixed in the
program. Re-running a notebook's set-up cell makes new ``W`` and ``b`` under the same
names, and a program kept from before would go on reading the old ones: silently
wrong numbers. :func:`python_state` fingerprints what a trace would find, cheaply
and without running anything; :mod:`d2l_softmax.engine` keys its programs on it, so a
changed state gets a new program.

What it follows: a function's closure and the globals its code names; an object's
attributes (``vars``); lists, tuples and dicts; a few levels deep. Variables count by
identity (their values are read when the program runs), numbers and strings by
value (they are constants in the program). Modules, classes and Keras objects count
by identity only: they keep their state in variables.
"""
from __future__ import annotations

import numbers
import types

import tensorflow as tf

_DEPTH = 4      # how many steps from the net, loss or updater to look
_MAX_ITEMS = 64  # a longer list counts by identity and length


def _names(code: types.CodeType):
    """The global names a function's code (and the code nested in it) reads."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


class _Walk:
    """One fingerprint; ``kept`` holds every object counted by identity, so that none of
    their ids can be reused by a new object while the fingerprint is in use."""

    def __init__(self):
        self.kept: dict[int, object] = {}

    def by_id(self, obj) -> tuple:
        self.kept[id(obj)] = obj
        return ("id", id(obj))

    def state(self, obj, depth: int):
        if isinstance(obj, (str, bytes, numbers.Number)) or obj is None:
            return type(obj).__name__, repr(obj)  # a constant in the program: by value
        if isinstance(obj, tf.Variable) or id(obj) in self.kept or depth == 0:
            return self.by_id(obj)
        if isinstance(obj, tf.types.experimental.GenericFunction):  # a tf.function
            return self.state(getattr(obj, "python_function", None), depth)
        if isinstance(obj, (types.ModuleType, type, tf.Tensor, tf.keras.layers.Layer,
                            tf.keras.optimizers.Optimizer, tf.keras.losses.Loss)):
            return self.by_id(obj)
        if isinstance(obj, types.MethodType):  # made anew at each attribute access
            return self.state(obj.__self__, depth - 1), self.state(obj.__func__, depth - 1)
        key = self.by_id(obj)
        if isinstance(obj, (list, tuple)):
            if len(obj) > _MAX_ITEMS:
                return key, len(obj)
            return key, tuple(self.state(item, depth - 1) for item in obj)
        if isinstance(obj, dict):  # params["W"], hyperparameters["wd"]
            if len(obj) > _MAX_ITEMS:
                return key, len(obj)
            return key, tuple((self.state(name, depth - 1), self.state(value, depth - 1))
                              for name, value in list(obj.items()))
        if isinstance(obj, types.FunctionType):
            cells = tuple(self.state(cell.cell_contents, depth - 1)
                          for cell in obj.__closure__ or () if _filled(cell))
            found = tuple((name, self.state(obj.__globals__[name], depth - 1))
                          for name in dict.fromkeys(_names(obj.__code__))
                          if name in obj.__globals__)
            return key, cells, found
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):  # an updater, a tf.Module, a callable object
            call = getattr(type(obj), "__call__", None)
            return key, self.state(call, depth - 1) if isinstance(call, types.FunctionType) \
                else None, tuple((name, self.state(value, depth - 1))
                                 for name, value in list(attributes.items()))
        return key


def python_state(*objects) -> tuple[tuple, list]:
    """A hashable fingerprint of what tracing ``objects`` would bake in (see the module
    docstring), and the objects it counts by identity (keep them while it is used)."""
    walk = _Walk()
    return tuple(walk.state(obj, _DEPTH) for obj in objects), list(walk.kept.values())
