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

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

STALE_SECONDS = 3600.0  # a temporary this old is stale even if its pid is in use again
NAME_MAX = 255  # bytes in a file name, on Linux's file systems
# what a temporary's name adds to the stem: "." "." pid (10 digits at most) "." random
# (mkstemp's 8 letters) ".tmp"; fixed, so that any process finds the same stem
_TEMPORARY_EXTRA = 3 + 10 + 8 + len(".tmp")
# free space a run's folder needs: its four outputs (model.npz 32 KB, history.json, two
# PNGs of ~100 KB) take well under that
MIN_FREE_BYTES = 1 << 20
PROBE_BYTES = 64 << 10  # written and synced: statvfs is not right on every file system


class WriteError(OSError):
    """An output could not be written; the message names the file and why."""

    def __init__(self, path, reason: str, code: int | None = None, *, verb: str = "write"):
        super().__init__(f"cannot {verb} {path}: {reason}")
        self.errno, self.reason = code, reason  # reason: what went wrong, without the file

    def __str__(self) -> str:
        return str(self.args[0])


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def missing(path, what: str = "file") -> str:
    """Why ``path`` (which does not exist) is not there, for a message: "no such
    {what}", or a link to nothing or a loop of links, named as such."""
    path = Path(path)
    if not path.is_symlink():
        return f"no such {what}"
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python 3.10-3.12 raise this for a loop
        return "it is a loop of symbolic links"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "it is a loop of symbolic links"
    return f"it is a symbolic link to {os.readlink(path)}, which does not exist"


def regular_file(path, what: str) -> Path:
    """``path`` as a Path, if it is a regular file (or a link to one) to read; else the
    error that says what is there instead (nothing, a folder, a device or a pipe)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {missing(path, what)}")
    a = "an" if what[:1] in "aeiou" else "a"
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not {a} {what}")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file, not {a} {what}")
    return path


def resolve_target(path) -> Path:
    """The file a save to ``path`` replaces: ``path`` itself, or the end of its links.

    Raises :class:`WriteError` unless that is a regular file this user may write (as
    ``echo > file`` would), or does not exist yet.
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
        raise WriteError(
            path, f"it is {what}, not a regular file; only a regular file is ever replaced"
        )
    if not os.access(target, os.W_OK):  # renaming over it would get past its permissions
        raise WriteError(
            path, "Permission denied: the file is write-protected, and is kept", errno.EACCES
        )
    return target


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        reason = missing(folder) if not folder.exists() else "it is a file, not a folder"
        raise WriteError(folder, reason, verb="write in") from None
    except NotADirectoryError:
        raise WriteError(folder, "a part of its path is a file", verb="write in") from None
    except OSError as err:
        raise WriteError(folder, err.strerror, err.errno, verb="make the folder") from None


def _size(n: int) -> str:
    """``n`` bytes as a person reads them: 12 KiB, 1.5 MiB."""
    return f"{n / (1 << 20):.3g} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _check_free_space(folder: Path, need: int) -> None:
    """Refuse a disk with less than ``need`` bytes free for an ordinary user (f_bavail)."""
    try:
        info = os.statvfs(folder)
    except (OSError, AttributeError):  # not on this file system (or OS): the probe tells
        return
    free = info.f_bavail * info.f_frsize
    if free < need:
        raise WriteError(
            folder,
            f"no space left: {_size(free)} free, at least {_size(need)} needed",
            errno.ENOSPC,
            verb="write in",
        )


def _write_probe(folder: Path, size: int) -> None:
    """Write ``size`` bytes to a new file in ``folder``, sync them and delete the file:
    a full disk fails here (ENOSPC) even where statvfs says otherwise, and a file cannot
    be created on a read-only one."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".d2l_softmax-probe.", suffix=".tmp")
    except OSError as err:
        raise WriteError(folder, err.strerror, err.errno, verb="write in") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(size))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise WriteError(folder, err.strerror or str(err), err.errno, verb="write in") from None
    finally:
        Path(probe).unlink(missing_ok=True)


def prepare_folder(folder, need: int = MIN_FREE_BYTES) -> Path:
    """Make ``folder`` (and its parents) and check the outputs can be written in it.

    Before any work is done for them: a file in the way, a read-only disk or one with
    less than ``need`` bytes free (1 MiB: a training run's outputs take well under that)
    raises :class:`WriteError` naming the folder and the cause.
    """
    folder = Path(folder)
    _make_folder(folder)
    _check_free_space(folder, need)
    _write_probe(folder, min(need, PROBE_BYTES))
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
        pid_text = name[len(prefix) :].split(".", 1)[0]
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        old = time.time() - info.st_mtime > STALE_SECONDS
        dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))
        if old or dead:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the file system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
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
        fd, tmp = tempfile.mkstemp(
            dir=folder, suffix=".tmp", prefix=f".{_temporary_stem(target.name)}.{os.getpid()}."
        )
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
