"""Short-lived signed links that sign a person in: in every notice about a ticket, and the CLI's.

A link carries the person, where to go ("/tickets/12") and when it was issued, signed with
GRIEVANCE_WEB_SECRET (itsdangerous). Opening it starts a session for that person; the page
still applies the person's scope, so a link to a ticket outside it ends in 403.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from config.settings import Settings
from models.outbox import OutboxMessage
from web import texts

log = logging.getLogger(__name__)

# A notice read the next morning, or after a weekend, still opens.
LINK_LIFETIME = timedelta(hours=72)
DEV_SECRET_FILE = "dev-web-secret"  # noqa: S105 (a file name)
_SALT = "grievance-bot sign-in link"
CLOCK_SKEW = timedelta(minutes=5)


class WebSecretMissing(RuntimeError):
    """Production without GRIEVANCE_WEB_SECRET: links and sessions cannot be signed."""


def web_secret(settings: Settings) -> str:
    """The secret that signs links and the session cookie; development keeps one on disk."""
    if settings.web_secret:
        return settings.web_secret
    if settings.is_production:
        raise WebSecretMissing("GRIEVANCE_WEB_SECRET is not set")
    path = settings.instance_path / DEV_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        log.warning("development web secret written to %s", Path(path).resolve())
    return path.read_text(encoding="utf-8").strip()


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(web_secret(settings), salt=_SALT)


def sign_in_token(
    settings: Settings,
    person_id: int,
    target: str,
    issued: datetime,
    lifetime: timedelta = LINK_LIFETIME,
) -> str:
    """A token that signs `person_id` in and sends them to `target` (a path of this site).

    The same person, target and `issued` always give the same token: a notice sent again after
    a crash must read exactly as before, or WeChat's duplicate check would let both through.
    """
    payload = {
        "p": person_id,
        "to": target,
        "at": int(issued.timestamp()),
        "ttl": int(min(lifetime, LINK_LIFETIME).total_seconds()),
    }
    return str(_serializer(settings).dumps(payload))


def read_sign_in_token(
    settings: Settings, token: str, now: datetime, max_age: timedelta = LINK_LIFETIME
) -> tuple[int, str] | None:
    """(person id, target path) of a valid token issued within `max_age`; None otherwise."""
    try:
        data: Any = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    person_id, target, issued = data.get("p"), data.get("to"), data.get("at")
    ttl = data.get("ttl")
    if not isinstance(person_id, int) or not isinstance(issued, int) or not isinstance(ttl, int):
        return None
    age = now - datetime.fromtimestamp(issued, UTC)
    if age > min(max_age, timedelta(seconds=ttl)) or age < -CLOCK_SKEW:
        return None
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    return person_id, target


def public_base(settings: Settings) -> str:
    """The address people reach the pages at (GRIEVANCE_PUBLIC_URL), without a trailing slash."""
    return (settings.public_url or "http://127.0.0.1:8000").rstrip("/")


def sign_in_url(
    settings: Settings,
    person_id: int,
    target: str,
    issued: datetime,
    lifetime: timedelta = LINK_LIFETIME,
) -> str:
    """An absolute sign-in link for `person_id` that lands on `target`."""
    token = sign_in_token(settings, person_id, target, issued, lifetime)
    return f"{public_base(settings)}/l/{token}"


def ticket_url(settings: Settings, person_id: int, ticket_id: int, issued: datetime) -> str:
    """The link a notice about ticket `ticket_id` carries for its recipient."""
    return sign_in_url(settings, person_id, f"/tickets/{ticket_id}", issued)


def with_ticket_link(settings: Settings, message: OutboxMessage, person_id: int | None) -> str:
    """The text of an outbox message as sent: a notice about a ticket ends with its page's link.

    Only where GRIEVANCE_PUBLIC_URL says where the pages are (`serve` sets it to its own
    address in development), and the link is made from the message's own time, so it reads the
    same on every attempt.
    """
    if message.ticket_id is None or person_id is None or not settings.public_url:
        return message.text
    try:
        url = ticket_url(settings, person_id, message.ticket_id, message.created_at)
    except WebSecretMissing:
        return message.text
    return f"{message.text}\n{texts.NOTICE_LINK.format(url=url)}"
