"""config/settings.py: the database URL asks for the driver it needs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from config.settings import MissingExtra, Settings

POSTGRES_URLS = ["postgresql://grievance@db.example/town", "postgresql+psycopg://u@h/county"]


@pytest.mark.parametrize("url", POSTGRES_URLS)
def test_a_postgresql_url_without_psycopg_names_the_postgres_extra(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    settings = Settings(database_url=url, instance_path=tmp_path)
    with pytest.raises(MissingExtra) as caught:
        settings.resolved_database_url  # noqa: B018
    assert str(caught.value) == (
        "GRIEVANCE_DATABASE_URL (PostgreSQL) needs the psycopg package, which is not installed: "
        "pip install 'grievance-bot[postgres]'"
    )


@pytest.mark.parametrize("url", POSTGRES_URLS)
def test_a_postgresql_url_with_psycopg_is_used_as_set(url: str, tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    assert Settings(database_url=url, instance_path=tmp_path).resolved_database_url == url


def test_sqlite_needs_no_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    default = Settings(database_url=None, instance_path=tmp_path).resolved_database_url
    assert default == f"sqlite:///{(tmp_path / 'grievance.sqlite3').resolve()}"
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert Settings(database_url=url, instance_path=tmp_path).resolved_database_url == url
