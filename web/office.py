"""The office's pages: the outbox's dead letters (retry one or all) — for dispatchers and admins.

An admin sees every dead letter; a dispatcher those to people of their own place's subtree.
Each retry is one CSRF-checked POST calling models/outbox.py's retry, as `outbox retry` does,
and is logged with the person who asked for it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template
from sqlmodel import Session, col, select

from models.db import unit_of_work
from models.outbox import OutboxMessage, OutboxStatus, RetryRefused, check_retry, retry
from models.person import Person, Role, roles_of
from models.place import Place
from web import texts
from web.identity import check_csrf, engine, now, signed_in
from web.views import local

blueprint = Blueprint("web_office", __name__, template_folder="templates")
blueprint.before_request(check_csrf)
OFFICE_ROLES = frozenset({Role.dispatcher, Role.admin})


def office_person() -> None:
    """403 unless the signed-in person is a dispatcher or an admin."""
    if not roles_of(g.db, g.person.id) & OFFICE_ROLES:
        abort(403)


def _scoped(session: Session, person: Person) -> Any:
    """The dead letters this person may see and retry, newest first."""
    stmt = (
        select(OutboxMessage, Person)
        .join(Person, col(Person.id) == col(OutboxMessage.person_id), isouter=True)
        .where(OutboxMessage.status == OutboxStatus.dead.value)
        .order_by(col(OutboxMessage.id).desc())
    )
    assert person.id is not None
    if Role.admin not in roles_of(session, person.id):
        own = session.get(Place, person.place_id)
        assert own is not None
        stmt = stmt.join(Place, col(Place.id) == col(Person.place_id)).where(
            col(Place.path).startswith(own.path)
        )
    return stmt


def _by() -> str:
    return f"web:{g.person.id} {g.person.name}"


@blueprint.get("/office/outbox")
@signed_in
def outbox() -> Any:
    """Dead letters with their recipient, ticket, attempts and last error."""
    office_person()
    letters = [
        {
            "message": message,
            "person": person,
            "created": local(message.created_at),
        }
        for message, person in g.db.exec(_scoped(g.db, g.person))
    ]
    return render_template("outbox.html", letters=letters)


@blueprint.post("/office/outbox/<int:message_id>/retry")
@signed_in
def retry_message(message_id: int) -> Any:
    """Queue one dead letter again (only one this person may see)."""
    office_person()
    allowed = {m.id for m, _ in g.db.exec(_scoped(g.db, g.person))}
    with unit_of_work(engine()) as session:
        try:
            message = check_retry(session.get(OutboxMessage, message_id), message_id, now())
            if message_id not in allowed:
                abort(403)  # another place's letter, or one still waiting its turn
            retry(session, [message], now=now(), by=_by())
        except RetryRefused as refused:
            flash(texts.OUTBOX_REFUSED[refused.reason].format(id=message_id), "error")
            return redirect("/office/outbox")
    flash(texts.OUTBOX_RETRIED.format(count=1), "ok")
    return redirect("/office/outbox")


@blueprint.post("/office/outbox/retry-all")
@signed_in
def retry_everything() -> Any:
    """Queue again every dead letter this person sees."""
    office_person()
    with unit_of_work(engine()) as session:
        messages = [m for m, _ in session.exec(_scoped(session, g.person))]
        retry(session, messages, now=now(), by=_by())
    flash(texts.OUTBOX_RETRIED.format(count=len(messages)), "ok")
    return redirect("/office/outbox")
