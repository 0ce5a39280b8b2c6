"""Photos uploaded from a page (the photo of a fix): checked, stored like fetched media, linked."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

from models.ticket import Attachment

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 6
RESULT_LABEL = "result"  # Attachment.label of a photo that shows the work done
# What a file's first bytes must be for it to be taken as a photo, and the name it is kept under.
SIGNATURES = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)


class NotAPhoto(ValueError):
    """The upload is empty, too large, or not a JPEG, PNG, GIF or WebP picture."""


def photo_extension(content: bytes) -> str:
    """The extension of a picture from its content (never from the name the browser sent)."""
    if not content:
        raise NotAPhoto("empty")
    if len(content) > MAX_PHOTO_BYTES:
        raise NotAPhoto("too large")
    for signature, extension in SIGNATURES:
        if content.startswith(signature):
            return extension
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return ".webp"
    raise NotAPhoto("not a picture")


def save_result_photo(
    instance_path: Path, ticket_id: int, content: bytes, now: datetime
) -> Attachment:
    """Keep a photo of the fix under the instance folder; the returned attachment is not added.

    `models.actions.resolve` links it to the ticket (and its timeline) with the result; if the
    action is refused the caller removes the file again (`discard`).
    """
    extension = photo_extension(content)
    relative = Path("media") / str(ticket_id) / f"result-{secrets.token_hex(8)}{extension}"
    target = instance_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, as bot/media.py does: a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Attachment(
        ticket_id=ticket_id,
        kind="image",
        channel="web",
        label=RESULT_LABEL,
        file_path=relative.as_posix(),
        downloaded_at=now,
        created_at=now,
    )


def discard(instance_path: Path, photos: list[Attachment]) -> None:
    """Remove the files of photos an action did not take."""
    for photo in photos:
        if photo.file_path:
            (instance_path / photo.file_path).unlink(missing_ok=True)
