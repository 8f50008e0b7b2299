"""Writing files so that nothing already saved is lost: write aside, then rename.

Only a regular file, or nothing, is ever replaced. A device (``/dev/null``), a named
pipe, a socket or a folder at the target is refused with :class:`WriteError`, checked
before writing and again right before the rename. A symbolic link is followed: the
regular file it points to is replaced and the link stays as it was.

The temporary file is named ``.<name>.<pid>.<random>.tmp``, beside the file it
replaces; a name too long for that (file names have at most 255 bytes) is cut, on a
character boundary, and marked ``~`` and 8 hex digits of its hash. A save killed
outright (``kill -9``, power cut) leaves its temporary behind; the next save of the
same file deletes those whose writer is no longer running, or that are older than an
hour.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

STALE_SECONDS = 3600.0  # a temporary this old is stale even if its pid is in use again
NAME_MAX = 255  # bytes in a file name, on Linux's file systems
# what a temporary's name adds to the stem: "." "." pid (10 digits at most) "." random
# (mkstemp's 8 letters) ".tmp"; fixed, so that any process finds the same stem
_TEMPORARY_EXTRA = 3 + 10 + 8 + len(".tmp")


class WriteError(OSError):
    """An output could not be written; the message names the file and why."""

    def __init__(self, path, reason: str, code: int | None = None, *, verb: str = "write"):
        super().__init__(f"cannot {verb} {path}: {reason}")
        self.errno, self.reason = code, reason  # reason: what went wrong, without the file

    def __str__(self) -> str:
        return str(self.args[0])


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def resolve_target(path) -> Path:
    """The file a save to ``path`` replaces: ``path`` itself, or the end of its links.

    Raises :class:`WriteError` unless that is a regular file or does not exist yet.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    except NotADirectoryError:
        raise WriteError(path, "a part of its folder path is a file") from None
    except OSError as err:
        raise WriteError(path, err.strerror, err.errno) from None
    if not stat.S_ISREG(mode):
        what = _kind(mode) + (f" (through the link to {target})" if target != path else "")
        raise WriteError(path, f"it is {what}, not a regular file; only a regular file is "
                         "ever replaced")
    return target


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(folder, "it is a file, not a folder", verb="write in") from None
    except NotADirectoryError:
        raise WriteError(folder, "a part of its path is a file", verb="write in") from None
    except OSError as err:
        raise WriteError(folder, err.strerror, err.errno, verb="make the folder") from None


def prepare_folder(folder) -> Path:
    """Make ``folder`` (and its parents) and check a file can be written in it."""
    folder = Path(folder)
    _make_folder(folder)
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".d2l_softmax-probe.", suffix=".tmp")
    except OSError as err:
        raise WriteError(folder, err.strerror, err.errno, verb="write in") from None
    os.close(fd)
    os.unlink(probe)
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _temporary_stem(name: str) -> str:
    """``name``, or for a name too long to fit in its temporary's, the most of it that
    fits (whole characters), then ``~`` and 8 hex digits of its hash, so that two long
    names differing only past the cut still get temporaries of their own."""
    budget = NAME_MAX - _TEMPORARY_EXTRA
    if len(os.fsencode(name)) <= budget:
        return name
    mark = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    stem = name
    while len(os.fsencode(stem + mark)) > budget:  # at most 255 steps; fsencode is exact
        stem = stem[:-1]
    return stem + mark


def clean_stale_temporaries(target: Path) -> int:
    """Delete temporaries of ``target`` left by killed saves; return how many."""
    prefix = f".{_temporary_stem(target.name)}."
    removed = 0
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix):].split(".", 1)[0]
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        old = time.time() - info.st_mtime > STALE_SECONDS
        dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))
        if old or dead:
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    Readers see the old file or the new one, never a half-written one; if writing
    fails or is interrupted, the old file is left as it was. A file system error
    (full disk, permission denied, read-only) raises :class:`WriteError` naming
    ``path``. Returns ``path``.
    """
    path = Path(path)
    target = resolve_target(path)
    folder = target.parent
    if not folder.is_dir():
        _make_folder(folder)
    clean_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp",
                                   prefix=f".{_temporary_stem(target.name)}.{os.getpid()}.")
    except OSError as err:
        raise WriteError(path, err.strerror, err.errno) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)  # keep the permissions it had
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes 0600; give the usual permissions
        os.chmod(tmp, mode)
        resolve_target(path)  # again: something else may have appeared meanwhile
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            reason = err.strerror or str(err)
            raise WriteError(path, reason, err.errno) from None
        raise
    _fsync_folder(folder)
    return path


def write_json(path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return write_atomically(path, lambda f: f.write(json.dumps(obj, indent=2).encode() + b"\n"))

