from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from pocketping_testkit.fakes.s3 import FakeS3


@pytest.fixture(scope="session")
def fake_s3() -> Iterator[FakeS3]:
    s3 = FakeS3().start()
    try:
        yield s3
    finally:
        s3.stop()


def png_bytes(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    img = Image.new("RGB", (width, height), color)
    for x in range(width):
        img.putpixel((x, x % height), (x * 5 % 256, 10, 200))
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=_text_chunk())
    return out.getvalue()


def _text_chunk() -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Secret Person")
    return info


def gps_jpeg() -> bytes:
    img = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    gps = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def pixels(data: bytes) -> list[object]:
    with Image.open(io.BytesIO(data)) as img:
        return [img.size, img.convert("RGB").tobytes()]
