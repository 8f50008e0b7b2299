"""Reading the user's own image files for ``d2l-softmax predict``: grey, 28x28, in [0, 1].

Images are opened lazily with Pillow and their size is checked before they are decoded.
TensorFlow is imported only to make the image tensor.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from .files import regular_file

if TYPE_CHECKING:
    import tensorflow as tf
    from PIL import Image

# an image's width and height: reading takes ~13 bytes per pixel, plus 16 per pixel of
# its longest side (resizing's weights: 1 GB for 1 x 67 million pixels), so both sides
# are limited, not only their product
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")


class _TooLarge(Exception):
    """An image wider or taller than ``MAX_IMAGE_SIDE``; the message is its size."""


def _grey(img) -> tuple[Image.Image, float]:
    """A Pillow image as a grey float ('F') image and the factor that scales it to [0, 1]:
    colour made grey, 16-bit kept at full precision, transparency laid on black
    (Fashion-MNIST's background).

    Works at the image's own size with few copies: at most 9 bytes per pixel besides
    the decoded image (itself at most 4), the most for palette images with transparency.
    """
    from PIL import Image, ImageChops

    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        return img.convert("I").convert("F"), 1 / 65535
    if img.mode == "F":
        values = np.asarray(img, np.float32).copy()
        np.nan_to_num(values, copy=False)
        np.clip(values, 0.0, 1.0, out=values)
        return Image.fromarray(values), 1.0  # float32: mode "F"
    if "A" in img.getbands() or "transparency" in img.info:
        if img.mode not in ("LA", "RGBA"):
            img = img.convert("RGBA")
        # on black: grey * alpha / 255, the colour of each pixel scaled by its opacity
        grey = ImageChops.multiply(img.convert("L"), img.getchannel("A"))
    else:
        grey = img.convert("L")
    return grey.convert("F"), 1 / 255


def read_image(path, size: int = 28) -> np.ndarray:
    """An image file as a (size, size) float32 array in [0, 1]; see :func:`load_image`."""
    from PIL import Image, ImageOps

    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1024:
        raise ValueError(f"size must be an integer in 1..1024, got {size!r}")
    path = regular_file(path, "image file")
    with open(path, "rb") as f:  # a file that cannot be opened raises OSError as it is
        try:
            with warnings.catch_warnings():  # a damaged file gives an image or an error
                warnings.simplefilter("ignore")
                img = Image.open(f, formats=IMAGE_FORMATS)
                img.draft("L", (size, size))  # JPEG: decode at a fraction of the size
                width, height = img.size
                if max(width, height) > MAX_IMAGE_SIDE:  # so at most MAX_IMAGE_PIXELS
                    raise _TooLarge(f"{width:,} x {height:,} pixels")
                if img.getexif().get(0x0112, 1) != 1:  # the EXIF orientation: turn it
                    img = ImageOps.exif_transpose(img)  # (a copy; unturned, none is made)
                grey, scale = _grey(img)
                del img  # the decoded image is not needed any more
                small = grey.resize((size, size), Image.Resampling.BILINEAR)  # antialiased
                return np.clip(np.asarray(small, np.float32) * np.float32(scale), 0.0, 1.0)
        except (_TooLarge, Image.DecompressionBombError) as err:  # Pillow's: over 179 Mpixels
            size_text = (
                err if isinstance(err, _TooLarge) else f"more than {MAX_IMAGE_PIXELS:,} pixels"
            )
            raise ValueError(
                f"{path}: the image is too large to read ({size_text}; the limit "
                f"is {MAX_IMAGE_SIDE} x {MAX_IMAGE_SIDE} pixels); shrink it first"
            ) from None
        except Exception as err:  # noqa: BLE001 (any decoder failure on hostile input)
            raise ValueError(
                f"{path}: not an image this can read (PNG, JPEG, GIF, BMP, "
                f"WebP, TIFF, PPM): {type(err).__name__}: {err}"
            ) from None


def load_image(path, size: int = 28) -> tf.Tensor:
    """A PNG/JPEG/GIF/BMP/WebP/TIFF/PPM image as a (1, size, size, 1) float32 batch in [0, 1].

    Colour is turned to grey (transparent parts to black), 16-bit images are scaled,
    the first frame of an animation is taken, the EXIF orientation is applied and
    other sizes are resized with antialiasing. Images wider or taller than 8192 pixels
    are refused before decoding. Fashion-MNIST shows light clothes on a black background;
    pictures on a white background should be inverted.
    """
    import tensorflow as tf

    return tf.constant(read_image(path, size)[None, :, :, None])
