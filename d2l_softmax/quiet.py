"""Keeping TensorFlow's C++ start-up log lines out of the chapter's output.

Set ``D2L_SOFTMAX_VERBOSE=1`` (or pass ``--verbose`` on the command line) to see them.
"""
import os

VERBOSE_VAR = "D2L_SOFTMAX_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def before_tensorflow() -> None:
    """Set TensorFlow's logging environment; must run before ``import tensorflow``.

    A value the user set already is kept.
    """
    if verbose():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
