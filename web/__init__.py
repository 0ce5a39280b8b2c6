"""The web pages beside the chat: server-rendered, phone first, for cadres and the office.

`init_web(app, …)` is called by bot/app.py's create_app; it adds the pages' blueprints, the
session cookie's settings and CSRF checking, and leaves the webhook blueprints alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from config.settings import Settings
from models.person import ROLE_NAMES, Role, roles_of
from web import texts
from web.identity import CSRF_FIELD, close_request_session, csrf_token
from web.links import WebSecretMissing, web_secret

log = logging.getLogger(__name__)
SESSION_LIFETIME = timedelta(hours=12)
WEB_BLUEPRINTS = ("web_auth", "web_pages", "web_figures", "web_actions", "web_office", "web_roster")
ERROR_PAGES = {
    400: (texts.BAD_FORM_TITLE, texts.BAD_FORM),
    413: (texts.TOO_LARGE_TITLE, texts.TOO_LARGE),
    403: (texts.FORBIDDEN_TITLE, texts.FORBIDDEN),
    404: (texts.NOT_FOUND_TITLE, texts.NOT_FOUND),
}


def init_web(app: Flask, settings: Settings, clock: Callable[[], datetime]) -> None:
    """Register the pages on `app` (skipped, with a warning, in production without a secret)."""
    from web.actions import blueprint as actions_blueprint
    from web.auth import blueprint as auth_blueprint
    from web.figures import blueprint as figures_blueprint
    from web.office import blueprint as office_blueprint
    from web.pages import blueprint as pages_blueprint
    from web.roster import blueprint as roster_blueprint

    try:
        app.secret_key = web_secret(settings)
    except WebSecretMissing:
        log.warning("GRIEVANCE_WEB_SECRET is not set: the web pages are off")
        return
    app.extensions["web"] = {"clock": clock}
    public = settings.public_url or ""
    app.config.update(
        SESSION_COOKIE_NAME="grievance_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.jinja_env.globals.update(T=texts, csrf_token=csrf_token, CSRF_FIELD=CSRF_FIELD)
    for blueprint in (
        auth_blueprint,
        pages_blueprint,
        figures_blueprint,
        actions_blueprint,
        office_blueprint,
        roster_blueprint,
    ):
        app.register_blueprint(blueprint)

    app.teardown_request(close_request_session)

    @app.context_processor
    def signed_in_person() -> dict[str, Any]:
        return {
            "roles_label": _roles_label,
            "shows_figures": _shows_figures,
            "shows_office": _shows_office,
        }

    previous = app.error_handler_spec[None][None].get(HTTPException)

    @app.errorhandler(HTTPException)
    def error_page(exc: HTTPException) -> Any:
        # The webhook answers WeChat in plain text; pages answer people with a page.
        if request.blueprint in WEB_BLUEPRINTS and exc.code in ERROR_PAGES:
            title, text = ERROR_PAGES[exc.code]
            return render_template("message.html", title=title, text=text), exc.code
        assert previous is not None
        return previous(exc)


def _shows_figures(db: Any, person: Any) -> bool:
    from web.figures import FIGURE_ROLES

    return bool(roles_of(db, person.id) & FIGURE_ROLES)


def _shows_office(db: Any, person: Any) -> bool:
    from web.office import OFFICE_ROLES

    return bool(roles_of(db, person.id) & OFFICE_ROLES)


def _roles_label(db: Any, person: Any) -> str:
    roles = roles_of(db, person.id)
    return texts.ROLE_SEPARATOR.join(ROLE_NAMES[r] for r in Role if r in roles)
