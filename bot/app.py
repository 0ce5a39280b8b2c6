"""The Flask application factory: nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bot.inbox import Inbox
from bot.spool import Spool
from bot.webhook import blueprint as webhook_blueprint
from config.office import OfficeConfig, load_office
from config.settings import Settings, get_settings
from handlers import build_router
from handlers.classifier import load_trusted
from handlers.parsers import ParserCache
from models.base import utcnow
from models.db import make_engine, read_session
from web import init_web

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    services: dict[str, Any] | None = None,
    clock: Callable[[], datetime] = utcnow,
    office: OfficeConfig | None = None,
    parsers: ParserCache | None = None,
) -> Flask:
    """Build the web app; tests pass their own settings, engine, services and clock.

    The office's files (SLA, calendar, taxonomy, routing) are read once here from `settings`
    — never from the process's environment — unless the caller already holds them (`office`).
    The app owns its parser cache (`parsers`): callers building many apps may share one.
    """
    settings = settings or get_settings()
    engine = engine or make_engine(settings.resolved_database_url)
    office = office or load_office(settings)
    app = Flask(__name__)
    # Flask answers 413 itself for bodies over this, before any view reads them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Rebuilt when the roster's villages change; asks the learned model when the rules are unsure.
    parsers = parsers or ParserCache(load_trusted(settings.instance_path))
    inbox = Inbox(
        engine,
        settings,
        build_router(),
        office,
        services=services,
        clock=clock,
        spool=Spool(settings.spool_path, limit=settings.spool_max_messages),
        parsers=parsers,
    )
    _warm_up(engine, office, parsers)
    app.extensions["grievance"] = {
        "settings": settings,
        "engine": engine,
        "inbox": inbox,
        "office": office,
        "parsers": parsers,
    }
    app.register_blueprint(webhook_blueprint)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return Response(exc.name.lower(), status=exc.code or 500, mimetype="text/plain")

    init_web(app, settings, clock)
    return app


def _warm_up(engine: Engine, office: OfficeConfig, parsers: ParserCache) -> None:
    """Build the parser for the roster's villages now, so the first message is not slow."""
    try:
        with read_session(engine) as session:
            parsers.warm_up(session, office.taxonomy)
    except SQLAlchemyError:
        # A database without the schema yet (before `db upgrade`): the first message builds it.
        log.warning("parser not warmed up: database not ready")
