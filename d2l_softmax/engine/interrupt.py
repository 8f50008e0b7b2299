"""Stopping a long run gently: the first Ctrl-C (SIGINT; a notebook's "interrupt the
kernel") asks ``train_ch3`` to stop after the current epoch, keeping its history; a
second one interrupts at once. The command line (:func:`terminate_as_interrupt`) treats
SIGTERM (sent by ``timeout``, ``docker stop``, batch schedulers) the same way and
handles signals on an alternate stack; a program using the library keeps its own
SIGTERM handling.

A signal the process was started with ignored (a job started with ``&`` from a
script ignores SIGINT) stays ignored. The signals received are recorded, so the
command line can exit with 130 after SIGINT and 143 after SIGTERM.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = [signal.SIGINT]  # the command line adds SIGTERM (terminate_as_interrupt)
_received: list[int] = []
_active: list[StopOnInterrupt] = []  # the stops in force, innermost last
_stop_asked = False  # stop_soon() was called: a training that starts later stops too


def received() -> list[int]:
    """The stop signals received since :func:`forget` (in order)."""
    return list(_received)


def forget() -> None:
    """Forget the signals recorded so far, and any stop asked for."""
    global _stop_asked
    _received.clear()
    _stop_asked = False


def exit_code() -> int:
    """The shell's exit code for the signal that stopped the run: 128 + its number
    (143 after a SIGTERM, else 130, as for Ctrl-C)."""
    return 128 + (signal.SIGTERM if signal.SIGTERM in _received else signal.SIGINT)


def stop_soon() -> None:
    """Ask the training that is running to stop after its epoch, as a first Ctrl-C does
    (the command line asks when its output can no longer be written). A training that
    has not started yet stops after its first epoch."""
    global _stop_asked
    _stop_asked = True
    for stop in _active:
        stop.event.set()


def handle_signals_on_their_own_stack() -> None:
    """Give the main thread an alternate signal stack, if it has none yet.

    Python installs its signal handlers to run on such a stack when the thread has
    one (``SA_ONSTACK``). Without it, a Ctrl-C or SIGTERM that arrives while
    TensorFlow's compiled code runs on the main thread (an XLA program does) is handled
    on that code's own stack, and the process died of a corrupted heap ("corrupted size
    vs. prev_size", in oneDNN's matrix product) in 8 of 28 runs stopped that way; with
    the stack, in none of 36. CPython's ``faulthandler`` sets one up when it is enabled (to
    report stack overflows); as a side effect, a crash then prints the Python traceback.
    """
    if not _in_main_thread() or faulthandler.is_enabled():
        return
    for stream in (sys.stderr, sys.__stderr__):
        try:
            faulthandler.enable(file=stream)
            return
        except (AttributeError, ValueError, OSError, RuntimeError):
            continue  # no usable file descriptor (a notebook's captured stream): the next


def _restore(signum: int, handler) -> None:
    """Put back a handler that ``signal.signal`` returned (None: one not set from Python)."""
    signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class StopOnInterrupt:
    """A context manager whose value is a ``threading.Event`` set by the first SIGINT
    or SIGTERM; a second one raises ``KeyboardInterrupt``.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self):
        self.event = threading.Event()
        self.previous: dict[int, object] = {}

    def __enter__(self) -> threading.Event:
        _active.append(self)
        if _stop_asked:
            self.event.set()
        if _in_main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self.previous[signum] = signal.signal(signum, self._handle)
        return self.event

    def _handle(self, signum, frame):
        _received.append(signum)
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc):
        if self in _active:
            _active.remove(self)
        for signum, handler in self.previous.items():
            _restore(signum, handler)
        self.previous = {}


def _raise_interrupt(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """The command line's signals: SIGTERM raises ``KeyboardInterrupt`` (recorded), as
    Ctrl-C does, so that a run stopped before or after training ends as cleanly as one
    stopped by Ctrl-C; during training it stops after the epoch, as a first Ctrl-C."""
    handle_signals_on_their_own_stack()
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    SIGNALS.append(signal.SIGTERM)
    try:
        yield
    finally:
        SIGNALS.remove(signal.SIGTERM)
        _restore(signal.SIGTERM, previous)
