"""Reading an image to predict: every documented format, huge and damaged files, EXIF."""

import io
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from d2l_softmax.io import images

from helpers import FUZZ, peak_growth_kib, scratch_folder

_DIR = scratch_folder("d2l_softmax-image-fuzz-")


def test_load_image(tmp_path):
    img = (np.arange(56 * 56) % 256).astype(np.uint8).reshape(56, 56, 1)
    path = tmp_path / "x.png"
    path.write_bytes(tf.io.encode_png(img).numpy())
    X = images.load_image(path)
    assert (
        X.shape == (1, 28, 28, 1) and 0 <= float(tf.reduce_min(X)) <= float(tf.reduce_max(X)) <= 1
    )
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png: not an image"):
        images.load_image(tmp_path / "bad.png")


def _square(mode="L", size=(40, 30)):
    """A light square on black, as Fashion-MNIST draws clothes."""
    a = np.zeros(size[::-1], np.uint8)
    a[5:25, 10:30] = 255
    return Image.fromarray(a).convert(mode)  # uint8: mode "L"


@pytest.mark.parametrize(
    "fmt, mode, exact",
    [
        ("PNG", "L", True),
        ("GIF", "P", True),
        ("BMP", "RGB", True),
        ("WEBP", "RGB", False),
        ("JPEG", "RGB", False),
        ("TIFF", "L", True),
        ("PPM", "RGB", True),
        ("PNG", "RGBA", True),
        ("PNG", "I;16", True),
        ("PNG", "1", True),
    ],
)
def test_images_of_every_documented_format_read_alike(tmp_path, fmt, mode, exact):
    reference = images.read_image(_save(tmp_path / "ref.png", _square()))
    img = _square(mode)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(_square(), np.uint16) * 257)
    X = images.load_image(_save(tmp_path / f"x.{fmt.lower()}", img, fmt))
    assert X.shape == (1, 28, 28, 1) and X.dtype == tf.float32
    np.testing.assert_allclose(X[0, :, :, 0], reference, atol=1e-6 if exact else 0.08)


def _save(path, img, fmt="PNG", **kw):
    img.save(path, format=fmt, **kw)
    return path


def test_transparent_parts_become_black_and_animations_give_their_first_frame(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 255  # white, but fully transparent...
    rgba[10:20, 10:20, 3] = 255  # ...except a square
    X = images.read_image(_save(tmp_path / "t.png", Image.fromarray(rgba)))
    assert X[0, 0] == 0 and X[15, 15] == pytest.approx(1)
    frames = [_square("P"), Image.new("P", (40, 30), 0)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert images.read_image(tmp_path / "a.gif").max() == pytest.approx(1)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height grey pixels and holds almost nothing."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "width, height, size_text",
    [
        (9000, 9000, "9,000 x 9,000 pixels"),
        (20000, 20000, "more than 67,108,864 pixels"),  # refused by Pillow itself (> 179 M)
        (1, 10_000, "1 x 10,000 pixels"),
        (10_000, 1, "10,000 x 1 pixels"),
        (1, 8192 * 8192, "1 x 67,108,864 pixels"),  # within the total, 2.5 GB to decode
    ],
)
def test_huge_images_are_refused_before_decoding(tmp_path, width, height, size_text):
    """Wider or taller than 8192 is refused, not only more than 8192 x 8192 pixels in all:
    a long thin image takes 30 bytes per pixel to read, twice a square one's."""
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(width, height))
    grew_kib, stderr = peak_growth_kib(
        "from d2l_softmax.io import images", "images.read_image(sys.argv[1])", path
    )
    assert stderr.splitlines() == [
        f"{path}: the image is too large to read ({size_text}; "
        "the limit is 8192 x 8192 pixels); shrink it first"
    ]
    assert grew_kib < 30 * 1024  # KiB; decoding would take 80 MB to 2.5 GB


@pytest.mark.parametrize("size", [(8192, 1), (1, 8192)])
def test_the_longest_sides_allowed_are_read(tmp_path, size):
    X = images.read_image(_save(tmp_path / "thin.png", Image.new("L", size, 255)))
    assert X.shape == (28, 28) and X.min() == pytest.approx(1)


_IMAGES = {}


def _image_bytes(fmt: str) -> bytes:
    if fmt not in _IMAGES:
        buf = io.BytesIO()
        _square("P" if fmt == "GIF" else "RGB").save(buf, format=fmt)
        _IMAGES[fmt] = buf.getvalue()
    return _IMAGES[fmt]


@FUZZ
@given(
    fmt=st.sampled_from(["PNG", "GIF", "BMP", "WEBP", "JPEG", "TIFF"]),
    cut=st.integers(0, 2000),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
)
def test_cut_or_damaged_images_give_an_image_or_a_value_error(fmt, cut, flips):
    data = bytearray(_image_bytes(fmt))
    data = data[: max(1, len(data) - cut)]
    for at, bits in flips:
        data[at % len(data)] ^= bits
    path = _DIR / "fuzz-image"
    path.write_bytes(bytes(data))
    try:
        X = images.read_image(path)
    except ValueError as err:
        assert str(path) in str(err)
        return
    assert X.shape == (28, 28) and X.dtype == np.float32 and (0 <= X).all() and (X <= 1).all()


@FUZZ
@given(
    raw=st.binary(max_size=300),
    prefix=st.sampled_from(
        [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"\xff\xd8\xff", b"RIFF", b"II*\x00"]
    ),
)
def test_random_bytes_are_not_images(raw, prefix):
    path = _DIR / "fuzz-bytes"
    path.write_bytes(prefix + raw)
    with pytest.raises(ValueError, match="not an image this can read|too large"):
        images.read_image(path)


def test_the_exif_orientation_is_applied(tmp_path):
    a = np.zeros((30, 40), np.uint8)
    a[0:5, 0:10] = 255  # a bar at the top left
    exif = Image.Exif()
    exif[0x0112] = 3  # "turned by 180 degrees"
    turned = images.read_image(
        _save(tmp_path / "t.jpg", Image.fromarray(a), "JPEG", exif=exif, quality=100)
    )
    plain = images.read_image(_save(tmp_path / "p.jpg", Image.fromarray(a), "JPEG", quality=100))
    np.testing.assert_allclose(turned, plain[::-1, ::-1], atol=0.02)
    assert plain[:2, :5].mean() > 0.9 and turned[:2, :5].mean() < 0.1
