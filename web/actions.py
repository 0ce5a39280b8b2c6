"""The buttons of a ticket page: the same actions as the chat (models/actions.py), from a form.

Each action is one POST with this session's CSRF token, one unit of work, the chat's notifier
(so the same people hear the same words), and the timeline line the action itself records.
A refused action changes nothing and says why on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request
from sqlmodel import Session

from handlers.notify import ChatNotifier
from models import actions
from models.actions import DISPATCH_ROLES, WORKING, Actor, Desk, Done, Reason, Refusal
from models.db import unit_of_work
from models.person import HANDLER_ROLES, Person, roles_of
from models.ticket import STATE_NAMES, Attachment, Ticket, TicketState
from models.tickets import may_dispatch, may_handle
from models.workflow import can_transition
from web import texts
from web.identity import check_csrf, engine, grievance, now, settings, signed_in
from web.uploads import MAX_PHOTO_BYTES, MAX_PHOTOS, NotAPhoto, discard, save_result_photo

blueprint = Blueprint("web_actions", __name__, template_folder="templates")


@blueprint.before_request
def allow_photos() -> None:
    """A form may carry photos of the fix: more than the webhook's body limit (before the
    CSRF check reads the form)."""
    request.max_content_length = MAX_PHOTOS * MAX_PHOTO_BYTES + 64 * 1024


blueprint.before_request(check_csrf)

S = TicketState
HANDLER_ACTIONS = ("accept", "progress", "resolve", "return", "transfer", "extend")
DISPATCHER_ACTIONS = ("send_to", "approve", "reject", "merge", "invalidate")


@dataclass(frozen=True)
class Buttons:
    """The actions a person may take on a ticket now, in the order the page shows them."""

    names: tuple[str, ...]
    pending: str | None  # the kind of request waiting for the dispatcher ("return", "extension")


def buttons(session: Session, person: Person, ticket: Ticket) -> Buttons:
    """What the page offers: the assignee's steps in working states, the dispatcher's others."""
    assert person.id is not None
    roles = roles_of(session, person.id)
    state = S(ticket.state)
    names: list[str] = []
    if roles & HANDLER_ROLES and state in WORKING and may_handle(session, person, ticket):
        names += [n for n in HANDLER_ACTIONS if n != "accept" or state is S.assigned]
    pending = None
    if roles & DISPATCH_ROLES and may_dispatch(session, person, ticket):
        request_ = actions.pending_request(session, ticket)
        pending = request_.kind if request_ is not None else None
        if can_transition(ticket.state, S.assigned):
            names.append("send_to")
        if pending is not None:
            names += ["approve", "reject"]
        if can_transition(ticket.state, S.duplicate):
            names.append("merge")
        if can_transition(ticket.state, S.invalid):
            names.append("invalidate")
    return Buttons(tuple(dict.fromkeys(names)), pending)


def _int(name: str) -> int | None:
    value = (request.form.get(name) or "").strip().lstrip("#")
    return int(value) if value.isdigit() else None


def _text(name: str) -> str:
    return (request.form.get(name) or "").strip()[:1000]


def _person_ref() -> actions.PersonRef:
    chosen = _int("to")
    return chosen if chosen is not None else _text("to_name")


def _photos(ticket_id: int) -> list[Attachment]:
    files = [f for f in request.files.getlist("photos") if f and f.filename][:MAX_PHOTOS]
    saved: list[Attachment] = []
    try:
        for upload in files:
            content = upload.read()
            saved.append(save_result_photo(settings().instance_path, ticket_id, content, now()))
    except NotAPhoto:
        discard(settings().instance_path, saved)
        raise
    return saved


CALLS: dict[str, Callable[[Desk, Actor, int, list[Attachment]], Done]] = {
    "accept": lambda d, a, t, _: actions.accept(d, a, t),
    "progress": lambda d, a, t, _: actions.progress(d, a, t, _text("note")),
    "resolve": lambda d, a, t, photos: actions.resolve(d, a, t, _text("result"), photos),
    "return": lambda d, a, t, _: actions.return_(d, a, t, _text("reason")),
    "transfer": lambda d, a, t, _: actions.transfer(d, a, t, _person_ref(), _text("note")),
    "extend": lambda d, a, t, _: actions.extend(d, a, t, _int("days"), _text("reason")),
    "send_to": lambda d, a, t, _: actions.send_to(d, a, t, _person_ref()),
    "approve": lambda d, a, t, _: actions.approve(d, a, t),
    "reject": lambda d, a, t, _: actions.reject(d, a, t, _text("reason")),
    "merge": lambda d, a, t, _: actions.merge(d, a, t, _int("into")),
    "invalidate": lambda d, a, t, _: actions.invalidate(d, a, t, _text("reason")),
}


def refusal_text(refusal: Refusal) -> str:
    """Why nothing changed, as the page says it."""
    template = texts.REFUSALS.get(refusal.reason.value, texts.REFUSED)
    detail: dict[str, Any] = {"id": refusal.ticket or "", **refusal.detail}
    if "phones" in detail:
        detail["phones"] = texts.ROLE_SEPARATOR.join(detail["phones"])
    if "state" in detail:
        detail["state"] = STATE_NAMES.get(S(detail["state"]), detail["state"])
    try:
        return template.format(**detail)
    except (KeyError, IndexError):
        return texts.REFUSED


@blueprint.post("/tickets/<int:ticket_id>/act/<name>")
@signed_in
def act(ticket_id: int, name: str) -> Any:
    """One button: run the action as this person, from the web, and show the ticket again."""
    call = CALLS.get(name)
    if call is None:
        abort(404)
    back = redirect(f"/tickets/{ticket_id}")
    try:
        photos = _photos(ticket_id) if name == "resolve" else []
    except NotAPhoto:
        flash(texts.NOT_A_PHOTO, "error")
        return back
    moment = now()
    office = grievance()["office"]
    try:
        with unit_of_work(engine()) as session:
            person = session.get(Person, g.person.id)
            assert person is not None
            desk = Desk(session, moment, office, ChatNotifier(session, moment, office))
            call(desk, Actor.of(session, person, via="web"), ticket_id, photos)
    except Refusal as refusal:
        discard(settings().instance_path, photos)
        # Not this person's to act on: as for a page outside their scope. A merge target that
        # is not found (or is the ticket itself) is a mistake in the form, said on the page.
        about_target = name == "merge" and refusal.ticket == _int("into")
        if refusal.reason in (Reason.not_found, Reason.not_allowed) and not about_target:
            abort(403)
        flash(refusal_text(refusal), "error")
        return back
    flash(texts.DONE[name].format(id=ticket_id), "ok")
    return back
