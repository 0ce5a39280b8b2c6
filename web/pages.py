"""The ticket pages: the list a person may see, one ticket, and its photos and voice notes."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from flask import Blueprint, abort, g, render_template, send_file
from sqlmodel import col
from werkzeug.security import safe_join

from models.scope import may_see, visible_tickets
from models.ticket import Attachment, Ticket
from web.identity import check_csrf, grievance, now, settings, signed_in
from web.views import local, ticket_page

blueprint = Blueprint(
    "web_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
blueprint.before_request(check_csrf)
LIST_LIMIT = 100


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
    """The tickets the signed-in person may see, newest first."""
    stmt = visible_tickets(g.db, g.person).order_by(col(Ticket.id).desc()).limit(LIST_LIMIT + 1)
    rows = list(g.db.exec(stmt))
    return render_template(
        "list.html",
        tickets=rows[:LIST_LIMIT],
        more=len(rows) > LIST_LIMIT,
        limit=LIST_LIMIT,
        local=local,
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
    return render_template("ticket.html", page=page)


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
