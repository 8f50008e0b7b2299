"""Stopping a long run gently: the first Ctrl-C (SIGINT) or SIGTERM (sent by ``timeout``,
``docker stop``, batch schedulers) asks training to stop after the current epoch; a
second one interrupts at once.

A signal the process was started with ignored (a job started with ``&`` from a
script ignores SIGINT) stays ignored. The signals received are recorded, so the
command line can exit with 130 after SIGINT and 143 after SIGTERM.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []
_active: list["StopOnInterrupt"] = []  # the stops in force, innermost last


def received() -> list[int]:
    """The stop signals received since :func:`forget` (in order)."""
    return list(_received)


def forget() -> None:
    """Forget the signals recorded so far."""
    _received.clear()


def exit_code() -> int:
    """The shell's exit code for the signal that stopped the run: 128 + its number
    (143 after a SIGTERM, else 130, as for Ctrl-C)."""
    return 128 + (signal.SIGTERM if signal.SIGTERM in _received else signal.SIGINT)


def stop_soon() -> None:
    """Ask the training that is running to stop after its epoch, as a first Ctrl-C does
    (the command line asks when its output can no longer be written)."""
    for stop in _active:
        stop.event.set()


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
    """SIGTERM raises ``KeyboardInterrupt`` (recorded), as Ctrl-C does, so that a run
    stopped before or after training ends as cleanly as one stopped by Ctrl-C."""
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        _restore(signal.SIGTERM, previous)
