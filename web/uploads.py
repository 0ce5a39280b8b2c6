"""Photos uploaded from a page (the photo of a fix): checked, stored like fetched media, linked."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from models.ticket import Attachment, Ticket
from models.workflow import record_event

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


def store_result_photo(
    session: Session,
    instance_path: Path,
    ticket: Ticket,
    content: bytes,
    *,
    actor_id: int | None,
    now: datetime,
) -> Attachment:
    """Keep a photo of the fix under the instance folder and link it to the ticket's timeline."""
    assert ticket.id is not None
    extension = photo_extension(content)
    attachment = Attachment(
        ticket_id=ticket.id,
        kind="image",
        channel="web",
        label=RESULT_LABEL,
        created_at=now,
    )
    session.add(attachment)
    session.flush()
    relative = Path("media") / str(ticket.id) / f"{attachment.id}-result{extension}"
    target = instance_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    attachment.file_path = relative.as_posix()
    attachment.downloaded_at = now
    session.add(attachment)
    record_event(session, ticket, "attachment", now=now, actor_id=actor_id, note="image")
    return attachment
