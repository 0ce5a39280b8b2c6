"""The web app for a WSGI server of several processes (gunicorn), configured from the environment.

    gunicorn --workers 4 --bind 127.0.0.1:8000 'bot.wsgi:app'

Each gunicorn worker process builds its own app (its database pool, parser and office files) from
the GRIEVANCE_* environment: the webhook and health check only. Delivery, media downloads and the
scheduled jobs run in separate `grievance-bot worker` processes, so adding web processes never
sends a message twice. The schema must be current (`grievance-bot db upgrade`) before start.
"""

from __future__ import annotations

from bot.app import create_app
from config.settings import get_settings


def build() -> object:
    """The app of this process's environment: production refuses to boot on missing secrets
    (the worker process exits and gunicorn says why); development fills in the credentials
    `serve` prints, from the instance folder."""
    settings = get_settings()
    settings.check_production()
    return create_app(settings.with_development_credentials())


app = build()
