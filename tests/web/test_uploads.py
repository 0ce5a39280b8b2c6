"""Photos of a fix uploaded from a page: only real pictures, kept under the instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.base import utcnow
from tests.web.conftest import png
from web.uploads import (
    MAX_PHOTO_BYTES,
    RESULT_LABEL,
    NotAPhoto,
    discard,
    photo_extension,
    save_result_photo,
)


def test_only_pictures_are_taken() -> None:
    assert photo_extension(png(4, 4, (1, 2, 3))) == ".png"
    assert photo_extension(b"\xff\xd8\xff\xe0" + b"0" * 10) == ".jpg"
    assert photo_extension(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ".webp"
    for content in (b"", b"<script>alert(1)</script>", b"%PDF-1.7", b"x" * (MAX_PHOTO_BYTES + 1)):
        with pytest.raises(NotAPhoto):
            photo_extension(content)


def test_a_result_photo_is_kept_under_the_instance_folder(tmp_path: Path) -> None:
    content = png(8, 8, (0, 200, 0))
    photo = save_result_photo(tmp_path, 12, content, utcnow())
    assert photo.kind == "image" and photo.channel == "web" and photo.label == RESULT_LABEL
    assert photo.file_path and photo.file_path.startswith("media/12/result-")
    assert photo.file_path.endswith(".png") and photo.downloaded_at is not None
    assert (tmp_path / photo.file_path).read_bytes() == content
    assert not list(tmp_path.glob("media/*/.part-*"))
    other = save_result_photo(tmp_path, 12, content, utcnow())
    assert other.file_path != photo.file_path  # never one photo over another
    discard(tmp_path, [photo, other])
    assert not list(tmp_path.glob("media/12/*"))
    with pytest.raises(NotAPhoto):
        save_result_photo(tmp_path, 12, b"<html>", utcnow())
    assert not list(tmp_path.glob("media/12/*"))
