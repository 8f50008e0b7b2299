"""Compiling a loop: a plain TensorFlow graph or XLA, once per ``train_ch3`` call.

How to compile (:func:`use_xla`): a plain graph, unless the run is long enough to pay
back XLA's longer compile time (measured in ``docs/engine.md``). A run's path depends
only on its length, never on timing, so a seeded run repeats bit for bit.

How long a program lives: one ``train_ch3`` call (:func:`programs_kept`). Its epochs
share the programs; the next call compiles anew, so whatever changed in between (a
notebook cell run again with new ``W`` and ``b``, a global, an attribute, a layer
frozen) is what the new program reads. Outside ``train_ch3``, each call of
``train_epoch_ch3`` or ``evaluate_accuracy`` compiles its own.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from contextvars import ContextVar

import tensorflow as tf

from ..io import quiet
from .guards import CompileError, refuse_frozen_python_state

# Runs shorter than this many training steps compile a plain graph: XLA's extra
# compile time would not be paid back (docs/engine.md). 6,000 steps are 26 epochs of
# the chapter's recipe (batch 256).
XLA_MIN_STEPS = 6_000


def use_xla(jit_compile: bool | None, run_steps: int | None) -> bool | None:
    """How to compile: False (a plain graph), True (XLA, insisted on) or None (XLA,
    falling back to a graph when XLA cannot compile the step).

    ``jit_compile`` None leaves it to the run's length: XLA only when the run is known
    to take at least :data:`XLA_MIN_STEPS` steps (``run_steps``), else a plain graph.
    """
    if jit_compile is not None:
        return jit_compile
    return None if run_steps is not None and run_steps >= XLA_MIN_STEPS else False


class Program:
    """A loop compiled as a plain TensorFlow graph, or with XLA (see :func:`use_xla`).

    ``make(jit, autograph, batch_size_known)`` returns the ``tf.function``. It is first
    traced without AutoGraph (the loops use ``tf.while_loop`` themselves, and converting
    the code costs start-up time); a net or loss with Python control flow on tensor
    values gets AutoGraph on a second try. A loop that hides the batch size from the
    graph (``hides_batch_size``; a per-batch step does from its relaxed second trace
    on) is made again with it known when the net needs it (``X.shape[0]`` used as a
    number). When XLA cannot compile the loop, it is made
    again as a plain graph, unless ``xla=True`` insists. Tracing and compiling fail
    before anything runs, so no step is done twice. A graph tensor used as a Python
    value (``.numpy()``, ``int(X[0])``) raises :class:`CompileError`; any other error
    in the code is raised as it is.

    The first call (the trace and the compile) runs inside
    :func:`~d2l_softmax.io.quiet.filtered_stderr`: TensorFlow 2.16-2.19 print XLA's
    start-up lines there whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
    """

    def __init__(
        self,
        make: Callable[[bool, bool, bool], Callable],
        what: str,
        xla: bool | None,
        *,
        hides_batch_size: bool = False,
        batch_size_known: bool = False,
    ):
        self.make, self.what, self.hides_batch_size = make, what, hides_batch_size
        self.jit, self.insist_on_xla = xla is not False, xla is True
        self.autograph, self.batch_size_known, self.has_run = False, batch_size_known, False
        self.fn = make(self.jit, self.autograph, self.batch_size_known)

    def __call__(self, *args):
        if self.has_run:
            return self._call(*args)
        with quiet.filtered_stderr():
            return self._call(*args)

    def _call(self, *args):
        while True:
            try:
                out = self.fn(*args)
                self.has_run = True
                return out
            except tf.errors.OperatorNotAllowedInGraphError as err:
                if self.autograph:
                    raise self._compile_error(err) from err
                self.autograph = True
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as err:
                if not self.jit or self.insist_on_xla or "XLA" not in str(err):
                    raise
                warnings.warn(
                    f"XLA could not compile the {self.what}; using a plain graph "
                    f"instead ({str(err).splitlines()[0]})",
                    stacklevel=4,
                )
                self.jit = False
            except (tf.errors.OpError, CompileError):
                raise
            except Exception as err:
                if not self.batch_size_known and (self.hides_batch_size or self.has_run):
                    self.batch_size_known = True  # perhaps the net needs the batch size
                elif "symbolic" in str(err).lower():  # a graph's tensor used as a value
                    raise self._compile_error(err) from err
                else:  # a mistake in the code itself, which running it eagerly would meet too
                    raise
            self.fn = self.make(self.jit, self.autograph, self.batch_size_known)

    def _compile_error(self, err: Exception) -> CompileError:
        return CompileError(
            f"could not compile the {self.what} for this net, loss and updater: "
            f"{type(err).__name__}: {err}\nThey must be TensorFlow code (no .numpy() or "
            "Python branching on tensor values). Pass run_eagerly=True to run the step "
            "as plain Python instead."
        )


_KEPT: ContextVar[dict | None] = ContextVar("d2l_softmax_programs", default=None)


@contextlib.contextmanager
def programs_kept():
    """Within it (one ``train_ch3`` call), a program is compiled once and reused by every
    epoch; outside it, every call compiles its own."""
    token = _KEPT.set({})
    try:
        yield
    finally:
        _KEPT.reset(token)


def forget_programs() -> None:
    """Compile anew from here on in this ``train_ch3`` call (a Python number the
    programs read, such as a float learning rate, was changed)."""
    kept = _KEPT.get()
    if kept is not None:
        kept.clear()


def set_learning_rate(updater, lr: float) -> None:
    """Set the learning rate for the next epoch. A Keras optimizer's, and the package's
    :class:`~d2l_softmax.optim.Updater`'s, is a variable the compiled step reads; any
    other (the book's ``Updater``) is a Python number, baked into the program when it
    was traced: the next epoch compiles anew."""
    if isinstance(updater, tf.keras.optimizers.Optimizer):
        updater.learning_rate = lr
        return
    updater.lr = lr
    if not isinstance(getattr(type(updater), "lr", None), property):
        forget_programs()


def kept(key: tuple, make: Callable[[], object]):
    """``make()``, or what it made for ``key`` before in this ``train_ch3`` call."""
    store = _KEPT.get()
    if store is None:
        return make()
    if key not in store:
        store[key] = make()
    return store[key]


def program(
    key: tuple, make: Callable[[bool, bool, bool], Callable], what: str, xla: bool | None, **options
) -> Program:
    """The :class:`Program` for ``key`` (the kind of loop and the objects it runs)."""
    return kept(key + (xla,), lambda: Program(make, what, xla, **options))


def plotting_step(step: Callable, trainer) -> Callable:
    """The 1.0 edition's ``step(batch)`` as a ``tf.function``, for ``Trainer.compiled``.

    Refused, as ``train_ch3``'s steps are, if tracing it changes Python state. What the
    model plots while it is traced (``model.plot`` in a step) is symbolic: the function
    returns those values, and ``trainer.model.plot`` draws them after each call.
    """
    model, keys = trainer.model, []
    step = refuse_frozen_python_state(step, (model, None, trainer.optim))

    @tf.function(reduce_retracing=True)
    def traced(batch):
        trainer.traced_plots = []  # Module.plot appends (key, value, train) while traced
        result = step(batch)
        keys[:] = [(key, train) for key, _, train in trainer.traced_plots]
        return result, [value for _, value, _ in trainer.traced_plots]

    def run(batch):
        result, values = traced(batch)
        for (key, train), value in zip(keys, values):
            model.plot(key, value, train)
        return result

    return run
