"""PostgreSQL and Redis are extras: missing, they stop a command with the line to install them."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from bot.access_token import RedisTokenStore, token_store
from bot.cli import main
from config.settings import MissingExtra, Settings, get_settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_postgres_and_redis_are_extras_not_dependencies() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    base = " ".join(project["dependencies"])
    assert "psycopg" not in base and "redis" not in base
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["postgres"]] == ["psycopg[binary]"]
    assert [d.split(">")[0] for d in extras["redis"]] == ["redis"]


def test_a_command_on_postgresql_without_the_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", "postgresql://grievance@127.0.0.1:1/county")
    monkeypatch.setenv("GRIEVANCE_INSTANCE_PATH", str(tmp_path / "instance"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output == (
        "Error: GRIEVANCE_DATABASE_URL (PostgreSQL) needs the psycopg package, which is not "
        "installed: pip install 'grievance-bot[postgres]'\n"
    )


def test_a_redis_url_without_the_extra_names_the_redis_extra(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingExtra, match=r"GRIEVANCE_REDIS_URL .*'grievance-bot\[redis\]'"):
        RedisTokenStore("redis://127.0.0.1:6379/0")
    with_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    with pytest.raises(MissingExtra, match=r"pip install 'grievance-bot\[redis\]'"):
        token_store(engine, with_redis)
