"""The IDX reader on hostile input: random bytes, cut and padded files, random header
fields, random gzip members, and gzip bombs. It either returns exactly the array the
header declares or raises ValueError naming the file, and its memory follows the
declared size, not the inflated one."""

import gzip
import os
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from d2l_softmax.io.idx import MAX_IDX_BYTES, read_idx

from helpers import FUZZ, idx_bytes, peak_growth_kib, scratch_folder

_DIR = scratch_folder("d2l_softmax-idx-fuzz-")


def _read(raw: bytes, ndim: int):
    """read_idx on a file holding ``raw``: the array, or the ValueError's message."""
    path = _DIR / "fuzz-idx-ubyte"
    path.write_bytes(raw)
    try:
        return read_idx(path, ndim)
    except ValueError as err:
        assert str(path) in str(err)
        return str(err)


small_arrays = (
    st.integers(1, 3)
    .flatmap(lambda ndim: st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim))
    .flatmap(
        lambda shape: st.binary(min_size=int(np.prod(shape)), max_size=int(np.prod(shape))).map(
            lambda payload: np.frombuffer(payload, np.uint8).reshape(shape)
        )
    )
)


@FUZZ
@given(raw=st.binary(max_size=300), ndim=st.integers(1, 4), gz=st.booleans())
def test_random_bytes_give_an_array_or_a_value_error(raw, ndim, gz):
    result = _read(gzip.compress(raw) if gz else raw, ndim)
    if isinstance(result, np.ndarray):  # only when the bytes happen to be a valid IDX file
        assert result.ndim == ndim and raw[:4] == bytes([0, 0, 8, ndim])
        assert result.tobytes() == raw[4 + 4 * ndim :]


@FUZZ
@given(array=small_arrays, cut=st.integers(0, 200), extra=st.binary(max_size=20), gz=st.booleans())
def test_cut_or_padded_files_are_refused(array, cut, extra, gz):
    raw = idx_bytes(array)
    changed = raw[: max(0, len(raw) - cut)] + extra
    result = _read(gzip.compress(changed) if gz else changed, array.ndim)
    header = 4 + 4 * array.ndim
    dims = struct.unpack(f">{array.ndim}i", changed[4:header]) if len(changed) >= header else ()
    if (
        dims
        and changed[:4] == raw[:4]
        and min(dims) >= 0
        and np.prod(dims) == len(changed) - header
    ):  # cut and padding made a valid file
        assert result.shape == dims and result.tobytes() == changed[header:]
    else:
        assert isinstance(result, str) and any(
            word in result
            for word in ("truncated", "too long", "magic", "negative", "this reader accepts")
        )


@FUZZ
@given(
    magic=st.binary(min_size=4, max_size=4),
    dims=st.lists(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 8), min_size=1, max_size=3),
    payload=st.binary(max_size=600),
    gz=st.booleans(),
)
def test_random_header_fields(magic, dims, payload, gz):
    ndim = len(dims)
    raw = magic + struct.pack(f">{ndim}i", *dims) + payload
    result = _read(gzip.compress(raw) if gz else raw, ndim)
    valid = magic == bytes([0, 0, 8, ndim]) and min(dims) >= 0 and np.prod(dims) == len(payload)
    if valid:
        assert result.shape == tuple(dims) and result.tobytes() == payload
    else:
        assert isinstance(result, str)


@FUZZ
@given(
    array=small_arrays,
    cuts=st.lists(st.integers(0, 100), max_size=4),
    levels=st.lists(st.integers(0, 9), min_size=5, max_size=5),
    flip=st.none() | st.tuples(st.integers(0, 10_000), st.integers(1, 255)),
    tail=st.sampled_from([b"", b"\0\0\0\0", b"garbage"]),
)
def test_random_gzip_members(array, cuts, levels, flip, tail):
    """A file of several gzip members is their concatenation; damage is refused."""
    raw = idx_bytes(array)
    bounds = sorted({min(c, len(raw)) for c in cuts} | {0, len(raw)})
    pieces = [raw[a:b] for a, b in zip(bounds, bounds[1:])] or [raw]
    data = bytearray(
        b"".join(gzip.compress(p, compresslevel=levels[i % 5]) for i, p in enumerate(pieces)) + tail
    )
    if flip is not None:
        data[flip[0] % len(data)] ^= flip[1]
    result = _read(bytes(data), array.ndim)
    if flip is None and tail in (b"", b"\0\0\0\0"):
        np.testing.assert_array_equal(result, array)
    elif isinstance(result, np.ndarray):  # a flip in a field gzip ignores (mtime, OS)
        np.testing.assert_array_equal(result, array)
    else:
        assert "gzip" in result or "IDX" in result


def test_sizes_over_the_limit_are_refused_before_reading(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3i", 2**31 - 1, 2**31 - 1, 28))
    with pytest.raises(ValueError, match="more than the 1,073,741,824 this reader accepts"):
        read_idx(path, 3)
    assert MAX_IDX_BYTES == 1 << 30
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">i", -5))
    with pytest.raises(ValueError, match="negative size"):
        read_idx(path, 1)


def test_special_files_are_refused(tmp_path):

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_idx(fifo, 1)  # would block forever if it were opened
    with pytest.raises(IsADirectoryError):
        read_idx(tmp_path, 1)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "none", 1)


@pytest.mark.parametrize("kind", ["too long", "bad magic", "over the limit", "one member"])
def test_gzip_bombs_are_refused_in_small_memory(tmp_path, kind):
    """300 MiB of zeros in 300 gzip members (315 KB on disk), or in one member (read
    by :class:`SingleMemberReader`, not :mod:`gzip`): the peak memory of a process reading it
    grows by far less than the inflated size."""
    mib = b"\0" * (1 << 20)
    ten_images = struct.pack(">4B3i", 0, 0, 8, 3, 10, 28, 28)
    header = {
        "too long": ten_images,
        "one member": ten_images,
        "bad magic": b"",
        "over the limit": struct.pack(">4B3i", 0, 0, 8, 3, 2**30, 28, 28),
    }[kind]
    path = tmp_path / "bomb.gz"
    if kind == "one member":
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(header)
            for _ in range(300):
                f.write(mib)
    else:
        path.write_bytes(gzip.compress(header) + gzip.compress(mib) * 300)
    grew_kib, stderr = peak_growth_kib(
        "from d2l_softmax.io.idx import read_idx", "read_idx(sys.argv[1], 3)", path
    )
    assert grew_kib < 20 * 1024, (grew_kib, stderr)  # < 20 MiB, the bomb is 300 MiB
    assert {
        "too long": "too long",
        "bad magic": "bad IDX magic",
        "over the limit": "more than",
        "one member": "too long",
    }[kind] in stderr


def test_one_member_is_inflated_by_zlib_and_anything_else_by_gzip(tmp_path, monkeypatch):
    """A one-member file (every Fashion-MNIST file) never reaches :mod:`gzip`; two
    members, bytes after the member and damage do, and read as before."""
    array = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    raw = idx_bytes(array)
    one, two = tmp_path / "one.gz", tmp_path / "two.gz"
    one.write_bytes(gzip.compress(raw))
    two.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    damaged = [gzip.compress(raw) + b"garbage", gzip.compress(raw)[:-3]]
    opened = []  # gzip.compress itself opens a GzipFile on Python 3.10: made before counting
    real = gzip.GzipFile
    monkeypatch.setattr(gzip, "GzipFile", lambda *a, **k: opened.append(1) or real(*a, **k))
    np.testing.assert_array_equal(read_idx(one, 3), array)
    assert opened == []
    np.testing.assert_array_equal(read_idx(two, 3), array)
    assert opened == [1]
    for bad in damaged:
        one.write_bytes(bad)
        with pytest.raises(ValueError, match="gzip"):
            read_idx(one, 3)
    assert len(opened) == 3


def test_a_read_of_nothing_inflates_nothing(tmp_path):
    """zlib takes a limit of 0 as "no limit": a read of 0 bytes must not inflate the file."""
    from d2l_softmax.io.idx import SingleMemberReader

    path = tmp_path / "zeros.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b"\0" * (8 << 20))
    with open(path, "rb") as raw:
        member = SingleMemberReader(raw)
        assert member.read(0) == b"" and member.readinto(bytearray()) == 0
        assert member.zlib.unconsumed_tail == b"" and not member.zlib.eof
        assert member.read(5) == b"\0" * 5
