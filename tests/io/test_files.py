"""Saving never destroys what it replaces: only a regular file, or nothing, is replaced;
a full disk or a killed save leaves the old file whole and no temporaries piling up."""

import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from d2l_softmax.io import files
from d2l_softmax.io.files import WriteError, write_atomically

from helpers import SPECIAL, make_special


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _identity(path):
    info = os.stat(path)
    return stat.S_IFMT(info.st_mode), info.st_rdev, info.st_ino


@pytest.mark.parametrize("kind", SPECIAL)
def test_only_a_regular_file_is_ever_replaced(tmp_path, kind):
    path = make_special(tmp_path / "out.png", kind)
    before = _identity(path)
    with pytest.raises(
        WriteError, match="not a regular file; only a regular file is ever replaced"
    ) as err:
        write_atomically(path, lambda f: f.write(b"PNG"))
    assert str(err.value).startswith(f"cannot write {path}: it is a")
    assert _identity(path) == before and _temporaries(tmp_path) == []


def test_a_special_file_appearing_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "out.json"

    def write(f):
        f.write(b"{}")
        os.mkfifo(path)  # someone makes a pipe there meanwhile

    with pytest.raises(WriteError, match="named pipe"):
        write_atomically(path, write)
    assert stat.S_ISFIFO(os.lstat(path).st_mode) and _temporaries(tmp_path) == []


def test_a_link_to_a_regular_file_replaces_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    files.write_json(link, [1])
    assert link.is_symlink() and real.read_text() == "[\n  1\n]\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the permissions it had are kept


def test_links_to_nothing_are_named_as_such(tmp_path):
    """A folder or an image given as a link to nothing, or a loop of links, is named as
    such (it was "it is a file, not a folder" and "no such image file")."""
    from d2l_softmax.io.images import read_image

    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    cases = {
        "dangling": f"it is a symbolic link to {tmp_path / 'gone'}, which does not exist",
        "loop1": "it is a loop of symbolic links",
    }
    for name, reason in cases.items():
        with pytest.raises(WriteError) as err:
            files.prepare_folder(tmp_path / name)
        assert str(err.value) == f"cannot write in {tmp_path / name}: {reason}"
        with pytest.raises(FileNotFoundError) as err:
            read_image(tmp_path / name)
        assert str(err.value) == f"{tmp_path / name}: {reason}"
    with pytest.raises(FileNotFoundError, match="no such image file$"):
        read_image(tmp_path / "nothing")


def test_folders_in_the_way(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(WriteError, match="a part of its folder path is a file"):
        write_atomically(tmp_path / "a-file" / "out.png", lambda f: f.write(b"x"))
    with pytest.raises(WriteError, match="it is a file, not a folder"):
        files.prepare_folder(tmp_path / "a-file")
    assert files.prepare_folder(tmp_path / "new" / "deep").is_dir()
    assert (
        write_atomically(tmp_path / "made" / "x.bin", lambda f: f.write(b"x")).read_bytes() == b"x"
    )


def _statvfs_saying(free: int):
    """An ``os.statvfs`` that reports ``free`` bytes available, whatever the disk."""

    def statvfs(path):
        return os.statvfs_result(
            (4096, 4096, 1 << 30, free // 4096, free // 4096, 1000, 1000, 1000, 0, 255)
        )

    return statvfs


def test_a_folder_without_room_for_the_outputs_is_refused(tmp_path, monkeypatch):
    """prepare_folder runs before training: 12 KiB free is refused then, not after."""
    assert files.prepare_folder(tmp_path / "roomy") == tmp_path / "roomy"
    monkeypatch.setattr(os, "statvfs", _statvfs_saying(12 << 10))
    with pytest.raises(WriteError) as err:
        files.prepare_folder(tmp_path / "run")
    assert str(err.value) == (
        f"cannot write in {tmp_path / 'run'}: no space left: 12 KiB free, at least 1 MiB needed"
    )
    assert err.value.errno == 28 and os.listdir(tmp_path / "run") == []
    assert files.prepare_folder(tmp_path / "run", need=8 << 10) == tmp_path / "run"


def test_a_full_disk_is_refused_before_any_work(small_disk, monkeypatch):
    """A real full tmpfs: statvfs says so; and where statvfs says there is room (it
    is not right on every file system), writing the probe fails."""
    disk = small_disk("256k")
    with pytest.raises(
        WriteError,
        match=r": no space left: 256 KiB free, at least 1 MiB "
        r"needed$",
    ):
        files.prepare_folder(disk / "run")
    (disk / "filler").write_bytes(bytes((256 - 12) << 10))
    monkeypatch.setattr(os, "statvfs", _statvfs_saying(1 << 30))
    with pytest.raises(WriteError) as err:
        files.prepare_folder(disk / "run")
    assert str(err.value) == f"cannot write in {disk / 'run'}: No space left on device"
    assert os.listdir(disk / "run") == []  # the probe is deleted


def test_a_full_disk_keeps_the_old_file_and_no_temporary(small_disk):
    disk = small_disk("64k")
    path = write_atomically(disk / "model.npz", lambda f: f.write(b"old"))
    with pytest.raises(WriteError) as err:
        write_atomically(path, lambda f: f.write(bytes(200_000)))
    assert str(err.value) == f"cannot write {path}: No space left on device"
    assert err.value.errno == 28 and err.value.reason == "No space left on device"
    assert path.read_bytes() == b"old" and _temporaries(disk) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_writers_are_removed_by_the_next_save(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    kept = [f".m.npz.{alive}.fresh.tmp", f".other.npz.{dead}.x.tmp", "notes.tmp"]
    removed = [f".m.npz.{dead}.abc.tmp", f".m.npz.{alive}.old.tmp"]
    for name in kept + removed:
        (tmp_path / name).write_bytes(b"partial")
    hour_ago = time.time() - files.STALE_SECONDS - 60
    os.utime(tmp_path / f".m.npz.{alive}.old.tmp", (hour_ago, hour_ago))
    write_atomically(tmp_path / "m.npz", lambda f: f.write(b"new"))
    assert _temporaries(tmp_path) == sorted(kept)  # another live writer's is left alone


_KILLED_SAVE = """
import os, sys
from d2l_softmax.io.files import write_atomically
write_atomically(sys.argv[1], lambda f: (f.write(b"partial"), f.flush(), os._exit(9)))
"""


@pytest.mark.parametrize(
    "name",
    ["a" * 246 + ".png", "é" * 125 + ".png", "€" * 83 + ".npz", "😀" * 62 + ".json"],
    ids=["1-byte", "2-byte", "3-byte", "4-byte"],
)
def test_names_near_the_length_limit_get_a_temporary_that_fits(tmp_path, name):
    """A name of 250-254 bytes (at most 255) can be saved: its temporary's name is cut to
    fit, on a character boundary, and the one a killed save leaves is still found."""
    path = tmp_path / name
    assert subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path)]).returncode == 9
    [left] = _temporaries(tmp_path)
    assert len(os.fsencode(left)) <= 255 and left.startswith("." + name[:40])
    left.encode("utf-8")  # whole characters: a cut one would be a lone surrogate here
    write_atomically(path, lambda f: f.write(b"whole"))
    assert path.read_bytes() == b"whole" and _temporaries(tmp_path) == []
    longer = name[:-4] + "x" + name[-4:]  # cut alike, but a temporary of its own
    assert files._temporary_stem(longer) != files._temporary_stem(name)


_SAVER = """
import sys, time
from d2l_softmax.io.files import write_atomically
path, size = sys.argv[1], int(sys.argv[2])

def slow(letter):
    def write(f):
        for _ in range(32):
            f.write(letter * (size // 32))
            f.flush()
            time.sleep(0.002)
    return write

print("ready", flush=True)
while True:
    for letter in (b"A", b"B"):
        write_atomically(path, slow(letter))
"""


def test_killed_saves_never_corrupt_the_file_nor_pile_up_temporaries(tmp_path):
    """Two processes saving one file at once, killed (kill -9) at random moments: the
    file is always one whole version, and the temporaries the kills leave are removed
    by the next save."""
    path, size = tmp_path / "model.npz", 1 << 18
    rng = random.Random(0)
    for _ in range(10):
        savers = [
            subprocess.Popen(
                [sys.executable, "-c", _SAVER, str(path), str(size)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for saver in savers:
            assert saver.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.01, 0.15))
        for saver in savers:
            saver.send_signal(signal.SIGKILL)
            saver.wait()
            saver.stdout.close()
        if path.exists():
            data = path.read_bytes()
            assert data in (b"A" * size, b"B" * size)
    assert len(_temporaries(tmp_path)) >= 1  # killed mid-write, each left one (at most)
    write_atomically(path, lambda f: f.write(b"C"))
    assert _temporaries(tmp_path) == [] and path.read_bytes() == b"C"
