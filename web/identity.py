"""Who is looking: the signed session cookie, CSRF tokens, and the way to a sign-in page."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import abort, current_app, g, redirect, request, session
from sqlalchemy import Engine
from sqlmodel import Session

from config.settings import Settings
from models.db import read_session
from models.person import Person

F = TypeVar("F", bound=Callable[..., Any])
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def grievance() -> dict[str, Any]:
    """The app's shared objects (settings, engine, office, clock)."""
    shared: dict[str, Any] = current_app.extensions["grievance"]
    return shared


def settings() -> Settings:
    value: Settings = grievance()["settings"]
    return value


def engine() -> Engine:
    value: Engine = grievance()["engine"]
    return value


def now() -> datetime:
    clock: Callable[[], datetime] = current_app.extensions["web"]["clock"]
    return clock()


def sign_in(person: Person) -> None:
    """Start a fresh session for `person` (nothing of an earlier session is kept)."""
    session.clear()
    session.permanent = True
    session["person_id"] = person.id
    session[CSRF_FIELD] = secrets.token_urlsafe(24)


def sign_out() -> None:
    session.clear()


def current_person(db: Session) -> Person | None:
    """The signed-in, still active roster person, or None."""
    person_id = session.get("person_id")
    if not isinstance(person_id, int):
        return None
    person = db.get(Person, person_id)
    if person is None or not person.active:
        return None
    return person


def csrf_token() -> str:
    """This session's form token (made on first use)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request without this session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(400, description="csrf")


def sign_in_page(target: str) -> str:
    """Where someone not signed in goes: WeChat's own sign-in inside WeChat, else the code page."""
    agent = request.headers.get("User-Agent", "")
    config = settings()
    nxt = quote(target, safe="/")
    if "wxwork" in agent and config.wecom_corp_id and config.wecom_secret:
        return f"/oauth/wecom?next={nxt}"
    if "MicroMessenger" in agent and config.wechat_appid and config.wechat_secret:
        return f"/oauth/wechat?next={nxt}"
    return f"/login?next={nxt}"


def safe_target(value: str | None) -> str:
    """A local path to go to after sign-in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def signed_in(view: F) -> F:
    """The view runs with `g.person` and `g.db` set; anyone else is sent to sign in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        db = request_session()
        person = current_person(db)
        if person is None:
            return redirect(sign_in_page(request.full_path.rstrip("?")))
        g.person = person
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def request_session() -> Session:
    """The request's read-only session, `g.db`, open until the request ends (error pages too)."""
    if "db" not in g:
        stack = ExitStack()
        g.db_stack = stack
        g.db = stack.enter_context(read_session(engine()))
    db: Session = g.db
    return db


def close_request_session(_error: BaseException | None = None) -> None:
    """Give the request's connection back (registered with `teardown_request`)."""
    stack = g.pop("db_stack", None)
    g.pop("db", None)
    if stack is not None:
        stack.close()


def forbid() -> None:
    abort(403)
