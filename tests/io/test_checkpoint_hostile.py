"""Hostile model files: random, cut, pickled, bombs, huge headers and zip directories."""

import io
import json
import struct
import warnings
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import d2l_softmax as d2l
from d2l_softmax.io import checkpoint

from helpers import FUZZ, peak_growth_kib, scratch_folder

_DIR = scratch_folder("d2l_softmax-model-fuzz-")
META = json.dumps({"format": checkpoint.FORMAT, "shape": [784, 10], "settings": {}})


def npy(descr, shape, data: bytes, fortran=False) -> bytes:
    """An .npy member with any header fields, whatever the data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": fortran, "shape": shape}
    )
    return buf.getvalue() + data


def npz(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, raw in members.items():
            zf.writestr(name + ".npy", raw)
    return buf.getvalue()


def good_members(W=None, b=None):
    W = np.zeros((784, 10), np.float32) if W is None else W
    b = np.zeros(10, np.float32) if b is None else b
    meta = np.array(META)
    return {
        "W": npy("<f4", W.shape, W.tobytes()),
        "b": npy("<f4", b.shape, b.tobytes()),
        "meta": npy(meta.dtype.str, (), meta.tobytes()),
    }


def _load(raw: bytes):
    path = _DIR / "fuzz.npz"
    path.write_bytes(raw)
    try:
        model, _ = checkpoint.load_params(path)
    except ValueError as err:
        assert str(path) in str(err) and "allow_pickle" not in str(err)
        return str(err)
    W, b = model.W.numpy(), model.b.numpy()
    assert W.ndim == 2 and b.shape == (W.shape[1],) and np.isfinite(W).all()
    return model


def test_a_handmade_file_reads_like_a_saved_one():
    assert not isinstance(_load(npz(good_members())), str)


@FUZZ
@given(raw=st.binary(max_size=400), zip_magic=st.booleans())
def test_random_bytes_are_not_a_model(raw, zip_magic):
    assert isinstance(_load((b"PK\x03\x04" if zip_magic else b"") + raw), str)


_GOOD = checkpoint.save_params(_DIR / "good.npz", d2l.SoftmaxRegression(seed=0)).read_bytes()


@FUZZ
@given(
    cut=st.integers(1, len(_GOOD)),
    flips=st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(1, 255)), max_size=3),
)
def test_cut_or_damaged_model_files(cut, flips):
    data = bytearray(_GOOD[: len(_GOOD) - cut + 1] if not flips else _GOOD)
    for at, bits in flips:
        data[at % len(data)] ^= bits
    result = _load(bytes(data))
    if isinstance(result, str):
        assert "model file" in result or "non-finite" in result or "inconsistent" in result
    else:  # only flips in fields that zip ignores (times, comments) leave it readable
        np.testing.assert_array_equal(result.W, d2l.SoftmaxRegression(seed=0).W)


dims = st.integers(0, 12) | st.integers(10**5, 10**12) | st.integers(-3, -1)


@FUZZ
@given(
    descr=st.sampled_from(
        ["<f4", ">f4", "<f8", "<f2", "|u1", "<i4", "|O", "<U8", "|b1", [("a", "<f4")]]
    ),
    shape=st.lists(dims, max_size=3).map(tuple),
    fortran=st.booleans(),
    extra=st.integers(-3, 3),
    deflate=st.booleans(),
    which=st.sampled_from(["W", "b", "meta"]),
)
def test_random_npy_header_fields(descr, shape, fortran, extra, deflate, which):
    """Any header is checked before the data is read: no huge allocation, no pickle."""
    n = int(np.prod(shape)) if shape else 1
    itemsize = np.dtype(descr).itemsize if descr != "|O" else 8
    size = n * itemsize + extra if 0 <= n * itemsize <= 4096 else 64
    members = good_members()
    members[which] = npy(descr, shape, bytes(max(size, 0)), fortran)
    result = _load(npz(members, zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED))
    if not isinstance(result, str):  # a consistent model: then W or b is right
        assert which in ("W", "b") and extra == 0 and np.dtype(descr).kind == "f"


def test_non_finite_parameters_are_refused_on_save_and_load(tmp_path):
    net = d2l.SoftmaxRegression(seed=0)
    net.W.assign(tf.tensor_scatter_nd_update(net.W, [[3, 4]], [float("nan")]))
    with pytest.raises(ValueError, match="W has 1 non-finite values"):
        checkpoint.save_params(tmp_path / "nan.npz", net)
    assert not (tmp_path / "nan.npz").exists()
    b = np.zeros(10, np.float32)
    b[2] = np.inf
    (tmp_path / "inf.npz").write_bytes(npz(good_members(b=b)))
    with pytest.raises(ValueError, match="inf.npz: b has 1 non-finite values"):
        checkpoint.load_params(tmp_path / "inf.npz")


def test_huge_declared_shape_is_refused_before_reading(tmp_path):
    members = good_members()
    members["W"] = npy("<f4", (10**6, 10**6), b"")
    path = tmp_path / "huge.npz"
    path.write_bytes(npz(members))
    assert path.stat().st_size < 1000  # 3.6 TiB claimed in under 1 KB
    with pytest.raises(ValueError, match=r"claims float32 of shape \(1000000, 1000000\)"):
        checkpoint.load_params(path)


def test_pickles_and_folders_are_not_models(tmp_path):
    import pickle

    (tmp_path / "p.npz").write_bytes(pickle.dumps({"W": 1}))
    with pytest.raises(ValueError, match="not a readable d2l_softmax model") as err:
        checkpoint.load_params(tmp_path / "p.npz")
    assert "allow_pickle" not in str(err.value)
    members = good_members()
    members["W"] = npy("|O", (784, 10), pickle.dumps([1]))
    (tmp_path / "o.npz").write_bytes(npz(members))
    with pytest.raises(ValueError, match="W is object") as err:
        checkpoint.load_params(tmp_path / "o.npz")
    assert "allow_pickle" not in str(err.value)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        checkpoint.load_params(tmp_path)


def test_zip_bomb_model_is_refused_in_small_memory(tmp_path):
    """W.npy declares (784, 10) and inflates to 200 MiB: only the declared bytes (and
    one more) are inflated, so the reading process grows by far less than that."""
    path = tmp_path / "bomb.npz"
    members = good_members()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("W.npy", "w", force_zip64=True) as f:
            f.write(npy("<f4", (784, 10), b""))
            for _ in range(200):
                f.write(bytes(1 << 20))
        for name in ("b", "meta"):
            zf.writestr(name + ".npy", members[name])
    assert path.stat().st_size < 1 << 20
    grew_kib, stderr = peak_growth_kib(
        "from d2l_softmax.io import checkpoint", "checkpoint.read_model_arrays(sys.argv[1])", path
    )
    assert "W has more bytes of data" in stderr
    assert grew_kib < 20 * 1024, grew_kib  # KiB: < 20 MiB of 200


def _with_copies_of_a_directory_record(raw: bytes, copies: int, zip64: bool) -> bytes:
    """A model file with ``copies`` more copies of its first zip directory record, its
    end record (or the ZIP64 one) declaring them all: a few bytes per entry on disk,
    an object per entry in memory once ``zipfile`` has parsed them."""
    end = raw.rfind(b"PK\x05\x06")
    count, size, offset = struct.unpack("<HII", raw[end + 10 : end + 20])
    directory = raw[offset : offset + size]
    record = directory[: 46 + sum(struct.unpack("<HHH", directory[28:34]))]
    directory += record * copies
    count += copies
    if not zip64:
        return (
            raw[:offset]
            + directory
            + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), offset, 0)
        )
    return (
        raw[:offset]
        + directory
        + struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), offset
        )
        + struct.pack("<IIQI", 0x07064B50, 0, offset + len(directory), 1)
        + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    )


@pytest.mark.parametrize("zip64", [False, True])
def test_a_huge_zip_directory_is_refused_before_it_is_parsed(tmp_path, monkeypatch, zip64):
    """10,000 extra directory records (2 million took 1.7 GB and 13 s to parse): the
    declared count is refused before ``zipfile.ZipFile`` is called at all."""
    good = checkpoint.save_params(tmp_path / "good.npz", d2l.SoftmaxRegression(seed=0))
    same = tmp_path / "same.npz"
    same.write_bytes(_with_copies_of_a_directory_record(good.read_bytes(), 0, zip64))
    assert checkpoint.read_model_arrays(same)[0].shape == (784, 10)  # the records are valid
    path = tmp_path / "many.npz"
    path.write_bytes(_with_copies_of_a_directory_record(good.read_bytes(), 10_000, zip64))

    def parse(*args, **kwargs):
        raise AssertionError("the zip directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", parse)
    with pytest.raises(ValueError) as err:
        checkpoint.read_model_arrays(path)
    assert str(err.value) == (
        f"{path}: not a readable d2l_softmax model file (ValueError: its "
        "zip directory declares 10,003 entries; a model has 3)"
    )


def test_a_zip_directory_larger_than_a_models_is_refused(tmp_path):
    """Three entries, but 80 KB of comments in the directory: refused by its size."""
    members = good_members()
    path = tmp_path / "comments.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            info = zipfile.ZipInfo(name + ".npy")
            info.comment = b"x" * 40_000 if name != "meta" else b""
            zf.writestr(info, raw)
    with pytest.raises(
        ValueError,
        match=r"comments.npz: not a readable d2l_softmax model file "
        r"\(ValueError: its zip directory declares 80,\d{3} bytes; a model's "
        r"takes at most 65,536\)$",
    ):
        checkpoint.read_model_arrays(path)


@pytest.mark.parametrize(
    "names, holds",
    [
        (["W", "b", "meta", "extra"], "W.npy, b.npy, meta.npy, extra.npy"),
        (["W", "b", "meta", "W"], "W.npy, b.npy, meta.npy, W.npy"),
        (["W", "meta"], "W.npy, meta.npy"),
    ],
)
def test_a_model_file_holds_exactly_w_b_and_meta(tmp_path, names, holds):
    members = good_members()
    path = tmp_path / "odd.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "w") as zf:
            for name in names:
                zf.writestr(name + ".npy", members.get(name, members["b"]))
    with pytest.raises(ValueError) as err:
        checkpoint.read_model_arrays(path)
    assert str(err.value) == (
        f"{path}: not a readable d2l_softmax model file (ValueError: it "
        f"holds {holds}; a model holds W.npy, b.npy, meta.npy, each once)"
    )
