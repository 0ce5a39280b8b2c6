"""What every command needs: the configured database, migrated, closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from config.settings import Settings, get_settings
from models.db import make_engine
from models.migrate import upgrade


@contextmanager
def open_database(settings: Settings | None = None, *, migrate: bool = True) -> Iterator[Engine]:
    """The database the settings name, at the newest schema unless `migrate` is False."""
    settings = settings or get_settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        if migrate:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()
