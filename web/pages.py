"""The ticket pages: the list a person may see, one ticket, and its photos and voice notes."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from flask import Blueprint, abort, g, render_template, request, send_file
from werkzeug.security import safe_join

from models.scope import may_see
from models.ticket import STATE_NAMES, Attachment, Ticket, TicketState
from web.actions import buttons
from web.identity import check_csrf, grievance, now, settings, signed_in
from web.listing import (
    OPEN,
    PAGE_SIZE,
    STATE_CHOICES,
    Filters,
    choices,
    filtered,
    handler_choices,
    rows,
)
from web.views import ticket_page

blueprint = Blueprint(
    "web_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
blueprint.before_request(check_csrf)


def _downloading_channels() -> frozenset[str]:
    """The channels whose media the worker fetches (those with outbound API credentials)."""
    config = settings()
    channels = set()
    if config.wechat_appid and config.wechat_secret:
        channels.add("wechat")
    if config.wecom_corp_id and config.wecom_secret and config.wecom_agent_id:
        channels.add("wecom")
    return frozenset(channels)


@blueprint.get("/")
@signed_in
def home() -> Any:
    """The tickets the signed-in person may see, filtered, newest first."""
    filters = Filters.from_args(request.args)
    moment = now()
    found = list(g.db.exec(filtered(g.db, g.person, filters, moment)))
    office = grievance()["office"]
    categories = [(code, office.category_name(code)) for code in office.taxonomy.codes]
    return render_template(
        "list.html",
        rows=rows(g.db, office, found[:PAGE_SIZE], moment),
        more=len(found) > PAGE_SIZE,
        filters=filters,
        choices=choices(g.db, g.person, categories),
        states=[(s, STATE_NAMES[TicketState(s)]) for s in STATE_CHOICES if s != OPEN],
    )


@blueprint.get("/tickets/<int:ticket_id>")
@signed_in
def ticket(ticket_id: int) -> Any:
    """One ticket, phone first: 403 when it lies outside the person's scope."""
    found = g.db.get(Ticket, ticket_id)
    if found is None:
        abort(404)
    if not may_see(g.db, g.person, ticket_id):
        abort(403)
    page = ticket_page(
        g.db, grievance()["office"], found, now(), downloads_channels=_downloading_channels()
    )
    offered = buttons(g.db, g.person, found)
    people = handler_choices(g.db, g.person) if {"transfer", "send_to"} & set(offered.names) else []
    return render_template("ticket.html", page=page, buttons=offered, people=people)


@blueprint.get("/media/<int:attachment_id>")
@signed_in
def media(attachment_id: int) -> Any:
    """A photo or voice note from the instance folder, only for people who may see its ticket."""
    item = g.db.get(Attachment, attachment_id)
    if item is None:
        abort(404)
    if not may_see(g.db, g.person, item.ticket_id):
        abort(403)
    if not item.file_path:
        abort(404)
    path = safe_join(str(settings().instance_path.resolve()), item.file_path)
    if path is None or not os.path.isfile(path):
        abort(404)
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if path.endswith(".amr"):
        mimetype = "audio/amr"
    response = send_file(path, mimetype=mimetype, max_age=0)
    # Another person on the same phone must not find it in a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response
