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
attributes (``vars`` or ``__slots__``) and its own class's data attributes; lists,
tuples, dicts and sets; ``functools.partial``; the data attributes of the user's own
modules (``config.lr``), a few levels deep. Variables count by identity (their values
are read when the program runs); numbers, strings and small NumPy arrays by value
(they are constants in the program). Library modules and classes, Keras objects and
tensors count by identity only: they keep their state in variables. What it cannot
see into (a deeper level, a container of more than :data:`_MAX_ITEMS`, a large
array) makes the fingerprint *incomplete*: the engine then reuses the program only
within one run of ``train_ch3``.
"""
from __future__ import annotations

import functools
import hashlib
import numbers
import os
import sys
import sysconfig
import types

import numpy as np

import tensorflow as tf

_DEPTH = 6           # how many steps from the net, loss or updater to look
_MAX_ITEMS = 64      # a longer container is not walked: the state is incomplete
_MAX_ARRAY = 100_000  # a NumPy array up to this many values counts by value
_LIBRARIES = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")})


def _library_file(path: str) -> bool:
    """Whether a module's or a function's file is a library's: the standard library,
    or anything installed (site-packages, Debian's dist-packages)."""
    path = os.path.abspath(path)
    return path.startswith(_LIBRARIES) or any(
        part in ("site-packages", "dist-packages") for part in path.split(os.sep))


def _users(module) -> bool:
    """Whether ``module`` is the user's own (a script, a notebook's, a config file), not
    a library's (this package is one): its state may be numbers the program bakes in."""
    if module is None or module.__name__.partition(".")[0] == __name__.partition(".")[0]:
        return False
    if module.__name__ in sys.builtin_module_names or getattr(
            getattr(module, "__spec__", None), "origin", None) in ("built-in", "frozen"):
        return False
    origin = getattr(module, "__file__", None)
    return origin is None or not _library_file(origin)


def _users_class(cls: type) -> bool:
    """Whether ``cls`` is the user's own: its methods' code is not a library's (a
    notebook's class says ``__main__``, which in Jupyter is the kernel's launcher)."""
    if cls.__module__.partition(".")[0] == __name__.partition(".")[0]:
        return False
    files = [value.__code__.co_filename for value in vars(cls).values()
             if isinstance(value, types.FunctionType)]
    if files:
        return any(not _library_file(f) for f in files)
    return cls.__module__ == "__main__" or _users(sys.modules.get(cls.__module__))


_READ_METHODS = ("__call__", "__getattr__", "__getattribute__")  # dunders a net runs


def _code_of(value):
    """What a class attribute runs or holds: a property's getter, a static or class
    method's function, else the value itself."""
    if isinstance(value, property):
        return value.fget
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    return value


def _data(value) -> bool:
    """An attribute holding data, not code: what a user's module or class may change."""
    return not isinstance(value, (types.ModuleType, type, types.FunctionType,
                                  types.BuiltinFunctionType, staticmethod, classmethod,
                                  property))


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
        self.complete = True

    def by_id(self, obj) -> tuple:
        self.kept[id(obj)] = obj
        return ("id", id(obj))

    def unseen(self, obj) -> tuple:
        """Something not looked into: by identity, and the fingerprint is incomplete."""
        self.complete = False
        return self.by_id(obj)

    def state(self, obj, depth: int):
        if isinstance(obj, (str, bytes, numbers.Number)) or obj is None:
            return type(obj).__name__, repr(obj)  # a constant in the program: by value
        if isinstance(obj, tf.Variable) or id(obj) in self.kept:
            return self.by_id(obj)
        if isinstance(obj, tf.types.experimental.GenericFunction):  # a tf.function
            return self.state(getattr(obj, "python_function", None), depth)
        if isinstance(obj, (tf.Tensor, tf.keras.layers.Layer, tf.keras.optimizers.Optimizer,
                            tf.keras.losses.Loss)) or (
                isinstance(obj, types.ModuleType) and not _users(obj)) or (
                isinstance(obj, type) and not _users_class(obj)):
            return self.by_id(obj)
        if isinstance(obj, np.ndarray):
            if obj.size > _MAX_ARRAY or obj.dtype.hasobject:
                return self.unseen(obj)
            digest = hashlib.blake2b(np.ascontiguousarray(obj).tobytes(), digest_size=16)
            return "array", obj.dtype.str, obj.shape, digest.hexdigest()
        if depth == 0:  # a library's object this deep is its own business
            return self.unseen(obj) if _users_class(type(obj)) or \
                isinstance(obj, (list, tuple, dict, set, frozenset, types.FunctionType,
                                 functools.partial)) else self.by_id(obj)
        if isinstance(obj, types.MethodType):  # made anew at each attribute access
            return self.state(obj.__self__, depth - 1), self.state(obj.__func__, depth - 1)
        key = self.by_id(obj)
        if isinstance(obj, (list, tuple, dict, set, frozenset)) and len(obj) > _MAX_ITEMS:
            return self.unseen(obj)
        if isinstance(obj, (list, tuple)):
            return key, tuple(self.state(item, depth - 1) for item in obj)
        if isinstance(obj, dict):  # params["W"], hyperparameters["wd"]
            return key, tuple((self.state(name, depth - 1), self.state(value, depth - 1))
                              for name, value in list(obj.items()))
        if isinstance(obj, (set, frozenset)):
            return key, frozenset(self.state(item, depth - 1) for item in obj)
        if isinstance(obj, functools.partial):
            return (key, self.state(obj.func, depth - 1), self.state(obj.args, depth - 1),
                    self.state(obj.keywords, depth - 1))
        if isinstance(obj, types.FunctionType):
            cells = tuple(self.state(cell.cell_contents, depth - 1)
                          for cell in obj.__closure__ or () if _filled(cell))
            found = tuple((name, self.state(obj.__globals__[name], depth - 1))
                          for name in dict.fromkeys(_names(obj.__code__))
                          if name in obj.__globals__)
            defaults = (self.state(obj.__defaults__, depth - 1),  # the function's own
                        self.state(obj.__kwdefaults__, depth - 1))   # tuple and dict
            return key, cells, found, defaults
        if isinstance(obj, types.ModuleType):  # the user's own: its data
            return key, tuple((name, self.state(value, depth - 1))
                              for name, value in list(vars(obj).items())
                              if not name.startswith("__") and _data(value))
        if isinstance(obj, type):  # the user's own class and its bases: data and methods
            return key, tuple((name, self.state(_code_of(value), depth - 1))
                              for cls in obj.__mro__ if _users_class(cls)
                              for name, value in list(vars(cls).items())
                              if not name.startswith("__") or name in _READ_METHODS)
        attributes = getattr(obj, "__dict__", None)
        slots = [name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())
                 if isinstance(name, str) and hasattr(obj, name) and name != "__dict__"]
        if isinstance(attributes, dict) or slots:  # an updater, a tf.Module, a callable object
            call = getattr(type(obj), "__call__", None)
            own = {**(attributes or {}), **{name: getattr(obj, name) for name in slots}}
            return (key, self.state(call, depth - 1) if isinstance(call, types.FunctionType)
                    else None, self.state(type(obj), depth - 1),
                    tuple((name, self.state(value, depth - 1)) for name, value in own.items()))
        return key


def python_state(*objects) -> tuple[tuple, list, bool]:
    """A hashable fingerprint of what tracing ``objects`` would bake in (see the module
    docstring), the objects it counts by identity (keep them while it is used), and
    whether it is complete (everything it reached was looked into)."""
    walk = _Walk()
    state = tuple(walk.state(obj, _DEPTH) for obj in objects)
    return state, list(walk.kept.values()), walk.complete
