"""Images are re-encoded before they are stored: pixels kept, metadata (EXIF, GPS, comments,
ICC-embedded text) dropped, width and height recorded. A file that claims to be an image but
does not decode is refused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pocketping.errors import InvalidInput

MAX_PIXELS = 40_000_000  # ~ 8000 x 5000; beyond it a decompression bomb is likelier than a screenshot
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


THUMB_SIZE = (320, 320)


@dataclass(frozen=True)
class Reencoded:
    width: int
    height: int


def thumbnail_type(content_type: str) -> str:
    """What a thumbnail of an image of this type is stored as (a photo stays a JPEG, the rest PNG)."""
    return "image/jpeg" if content_type == "image/jpeg" else "image/png"


def make_thumbnail(clean: Path, target: Path, content_type: str) -> None:
    """A small copy (at most 320 px a side) of an already re-encoded image, for previews."""
    from PIL import Image

    with Image.open(clean) as img:
        img.seek(0)
        small = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
        small.thumbnail(THUMB_SIZE)
        if thumbnail_type(content_type) == "image/jpeg":
            small.convert("RGB").save(target, "JPEG", quality=80)
        else:
            small.save(target, "PNG", optimize=True)


def reencode(source: Path, target: Path, content_type: str) -> Reencoded:
    """Write a metadata-free copy of the image at ``source`` to ``target``, in the same format."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    fmt = _FORMATS[content_type]
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(source) as img:
            if img.format != fmt:
                raise InvalidInput("the image's content does not match its type", code="invalid_image")
            if img.width * img.height > MAX_PIXELS:
                raise InvalidInput(f"images are limited to {MAX_PIXELS} pixels", code="image_too_large",
                                   limit=MAX_PIXELS)
            img.load()
            if fmt == "GIF" and getattr(img, "is_animated", False):
                frames = []
                for i in range(int(getattr(img, "n_frames", 1))):
                    img.seek(i)
                    frames.append(img.copy())
                frames[0].save(target, "GIF", save_all=True, append_images=frames[1:], loop=img.info.get("loop", 0),
                               duration=img.info.get("duration", 100))
                return Reencoded(img.width, img.height)
            # The orientation EXIF carried is applied to the pixels before EXIF goes.
            clean = ImageOps.exif_transpose(img) or img
            # Nothing of the original's metadata goes along but what the pixels need.
            clean.info = {k: v for k, v in clean.info.items() if k == "transparency"}
            if fmt == "JPEG":
                if clean.mode not in ("RGB", "L", "CMYK"):
                    clean = clean.convert("RGB")
                clean.save(target, "JPEG", quality=92, optimize=True)
            elif fmt == "WEBP":
                clean.save(target, "WEBP", lossless=True)
            else:
                clean.save(target, fmt, optimize=fmt == "PNG")
            return Reencoded(clean.width, clean.height)
    except Image.DecompressionBombError as exc:
        raise InvalidInput(f"images are limited to {MAX_PIXELS} pixels", code="image_too_large",
                           limit=MAX_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("the image could not be read; send it again or as another format",
                           code="invalid_image") from exc
