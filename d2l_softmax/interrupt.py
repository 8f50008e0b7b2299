"""Stopping a long run gently: the first Ctrl-C (or SIGTERM) asks training to stop
after the current epoch; a second Ctrl-C interrupts at once."""
from __future__ import annotations

import signal
import threading


class StopOnInterrupt:
    """A context manager whose value is a ``threading.Event`` set by the first
    Ctrl-C; a second Ctrl-C raises ``KeyboardInterrupt`` as usual.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self):
        self.event = threading.Event()
        self.previous = None

    def __enter__(self) -> threading.Event:
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
