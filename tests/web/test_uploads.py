"""Photos of a fix uploaded from a page: only real pictures, kept under the instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.base import utcnow
from models.db import unit_of_work
from models.person import Person
from models.ticket import Attachment, TicketEvent
from models.tickets import new_ticket
from tests.town import build_small_town
from tests.web.conftest import png
from web.uploads import (
    MAX_PHOTO_BYTES,
    RESULT_LABEL,
    NotAPhoto,
    photo_extension,
    store_result_photo,
)


def test_only_pictures_are_taken() -> None:
    assert photo_extension(png(4, 4, (1, 2, 3))) == ".png"
    assert photo_extension(b"\xff\xd8\xff\xe0" + b"0" * 10) == ".jpg"
    assert photo_extension(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ".webp"
    for content in (b"", b"<script>alert(1)</script>", b"%PDF-1.7", b"x" * (MAX_PHOTO_BYTES + 1)):
        with pytest.raises(NotAPhoto):
            photo_extension(content)


def test_a_result_photo_is_stored_and_on_the_timeline(engine: Engine, tmp_path: Path) -> None:
    town = build_small_town(engine)
    with unit_of_work(engine) as session:
        reporter = session.get(Person, town.people["reporter"].id)
        assert reporter is not None
        ticket = new_ticket(
            session,
            reporter=reporter,
            channel="wechat",
            sender="o-liu",
            text="路灯坏了",
            now=utcnow(),
        )
        photo = store_result_photo(
            session,
            tmp_path,
            ticket,
            png(8, 8, (0, 200, 0)),
            actor_id=town.people["cadre:张家村"].id,
            now=utcnow(),
        )
    with unit_of_work(engine) as session:
        stored = session.get(Attachment, photo.id)
        assert stored is not None and stored.label == RESULT_LABEL and stored.channel == "web"
        assert stored.file_path == f"media/{ticket.id}/{photo.id}-result.png"
        assert (tmp_path / stored.file_path).read_bytes() == png(8, 8, (0, 200, 0))
        event = session.exec(
            select(TicketEvent).where(
                TicketEvent.kind == "attachment", TicketEvent.ticket_id == ticket.id
            )
        ).one()
        assert event.actor_id == town.people["cadre:张家村"].id
    assert not list(tmp_path.glob("media/*/.part-*"))
