"""Keeping TensorFlow's C++ start-up log lines out of the chapter's output.

Importing TensorFlow, and its first look for devices, write lines such as
``I0000 ... oneDNN custom operations are on``, ``E0000 ... failed call to cuInit``
(on any machine without a GPU) and ``WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR`` straight to file
descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` takes effect. In a notebook they
show as a pink block under the cell.

``import d2l_softmax`` sets ``TF_CPP_MIN_LOG_LEVEL=2`` (errors still show) and, for
the one import of TensorFlow that follows, sends file descriptor 2 to a
temporary file, then writes back every line that is not such a log line. Python
errors, warnings and anything else reach the terminal as before.

TensorFlow also warns, through Python's logging, when a function is traced again and
again ("5 out of the last 5 calls to <function fused_loop.<locals>.loop> triggered
tf.function retracing"). For the package's own loops that is the design (one program
per net, see :mod:`d2l_softmax.engine`), not a mistake of the user's: that warning is
dropped for them, and kept for the user's own functions.

Matplotlib (which TensorFlow's import brings in) keeps its caches under the home
folder; where that cannot be written (a read-only home), it warns twice and uses a
temporary folder. The package gives it a temporary folder first (``MPLCONFIGDIR``),
quietly; a ``MPLCONFIGDIR`` the user set is kept.

Set ``D2L_SOFTMAX_VERBOSE=1`` (or pass ``--verbose`` on the command line) to see
everything TensorFlow prints.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

VERBOSE_VAR = "D2L_SOFTMAX_VERBOSE"

# absl's format (TF >= 2.17): "E0000 00:00:1732000000.123456  1234 cuda_platform.cc:52] ..."
# TensorFlow's older format: "2024-05-01 12:00:00.123456: I tensorflow/core/util/port.cc:113] ..."
_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.+-]+:\d+\]"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [\w/.+-]+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler)"
)


def verbose() -> bool:
    """Whether the user asked to see TensorFlow's own log lines."""
    return os.environ.get(VERBOSE_VAR, "").strip().lower() not in ("", "0", "false", "no")


def drop_log_lines(text: bytes) -> bytes:
    """``text`` without TensorFlow's C++ log lines (and their indented continuations)."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if _LOG_LINE.match(line):
            dropping = True
        elif not (dropping and line[:1] in (b" ", b"\t")):
            dropping = False
            kept.append(line)
    return b"".join(kept)


@contextlib.contextmanager
def filtered_stderr():
    """While active, file descriptor 2 goes to a temporary file; on exit the lines
    that are not TensorFlow log lines are written to the real stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            rest = drop_log_lines(held.read())
            if rest:
                os.write(2, rest)


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` inside :func:`filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)
            module.config.list_physical_devices()  # the look for a GPU logs too: do it now


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, as usual, and hands it to :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


# The package's compiled loops and steps, as TensorFlow names them in its warnings
_OWN_FUNCTIONS = (
    "fused_loop.<locals>.",
    "dataset_loop.<locals>.",
    "accumulating.<locals>.",
    "make_train_step.<locals>.",
    "make_eval_step.<locals>.",
    "check_labels_first.<locals>.",
    "refuse_frozen_python_state.<locals>.",
)


class _OwnRetracing(logging.Filter):
    """Drops TensorFlow's retracing warning when it is about the package's own loops."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            "triggered tf.function retracing" in message
            and any(name in message for name in _OWN_FUNCTIONS)
        )


_OWN_RETRACING = _OwnRetracing()


def writable_matplotlib_folder() -> None:
    """Point ``MPLCONFIGDIR`` at a new temporary folder when matplotlib's own one (as it
    finds it: ``$XDG_CONFIG_HOME/matplotlib`` or ``~/.config/matplotlib``) cannot be
    made or written; otherwise, or when matplotlib is imported already, do nothing."""
    if os.environ.get("MPLCONFIGDIR") or "matplotlib" in sys.modules:  # "" is unset to it too
        return
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    folder = os.path.join(base, "matplotlib")
    try:
        os.makedirs(folder, exist_ok=True)
        if os.access(folder, os.W_OK | os.X_OK):
            return
    except OSError:
        pass
    try:
        os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="matplotlib-")
    except OSError:  # no temporary folder either: matplotlib will say so itself
        pass


_set_level = False  # whether before_tensorflow() set TF_CPP_MIN_LOG_LEVEL


def before_tensorflow() -> None:
    """Make the coming ``import tensorflow`` quiet (unless :func:`verbose`), and drop
    TensorFlow's retracing warnings about the package's own loops.

    A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept. When TensorFlow is imported
    already, only the warnings are seen to.
    """
    global _set_level
    if verbose():
        return
    logging.getLogger("tensorflow").addFilter(_OWN_RETRACING)  # adding it twice adds it once
    writable_matplotlib_folder()
    if "tensorflow" in sys.modules:
        return
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        _set_level = True
    if os.name == "posix" and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


def show_logs() -> None:
    """Undo :func:`before_tensorflow` (the command line's ``--verbose``): TensorFlow,
    when it is imported, prints all its log lines."""
    global _set_level
    os.environ[VERBOSE_VAR] = "1"
    logging.getLogger("tensorflow").removeFilter(_OWN_RETRACING)
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietFinder)]
    if _set_level:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        _set_level = False
