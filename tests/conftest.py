"""Fixtures: settings, engine (SQLite always, PostgreSQL when configured), app, client, phones."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401
from bot.app import create_app
from bot.phone import Phone
from config.settings import Settings
from handlers.parsers import ParserCache
from models.db import make_engine
from models.migrate import upgrade
from tests.demo import demo_town  # noqa: F401  (the demo town fixture, for every test)

PG_URL = os.environ.get("GRIEVANCE_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# The read-only shared folder beside the clone (../shared): WeChat's samples and the labelled
# eval set. A clone without it still passes; the suites that need it are skipped and listed.
SHARED = Path(__file__).resolve().parents[2] / "shared"
NEEDS_SHARED = "needs ../shared:"


def needs_shared(part: str) -> pytest.MarkDecorator:
    """Skip unless ../shared/`part` is there; the run ends with a line listing such skips."""
    path = SHARED / part
    return pytest.mark.skipif(
        not path.exists(), reason=f"{NEEDS_SHARED} {part} not found at {path}"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which suites were skipped for lack of ../shared, so a green run is not misread."""
    skipped: Counter[str] = Counter()
    missing: set[str] = set()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if NEEDS_SHARED in reason:
            skipped[report.nodeid.split("::")[0]] += 1
            missing.add(reason.split(NEEDS_SHARED, 1)[1].split(" not found")[0].strip())
    if skipped:
        suites = ", ".join(f"{path} ({count})" for path, count in sorted(skipped.items()))
        terminalreporter.write_line(
            f"skipped for lack of {SHARED} ({', '.join(sorted(missing))}): {suites}",
            yellow=True,
        )


TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEST_AES_KEY_OLD = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"
WECOM_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str]:
    """The PostgreSQL test database, emptied and migrated once per run."""
    assert PG_URL
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()
    yield PG_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "grievance.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    engine = make_engine(url)
    tables = ", ".join(
        f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings of a town with both a 公众号 (safe mode: the AES key is set) and a 企业微信 app."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        instance_path=tmp_path / "instance",
        database_url=database_url,
        wechat_token="test-token",
        wechat_aes_key=TEST_AES_KEY,
        wechat_aes_key_previous=TEST_AES_KEY_OLD,
        wechat_appid="wxtestappid000001",
        wecom_corp_id="wwtestcorp000001",
        wecom_token="wecom-token",
        wecom_aes_key=WECOM_AES_KEY,
        wecom_agent_id="1000002",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Asia/Shanghai


@pytest.fixture(scope="session")
def parsers() -> ParserCache:
    """One parser cache for the run's apps: building jieba's tables takes a second or two."""
    return ParserCache()


@pytest.fixture
def app(settings: Settings, engine: Engine, parsers: ParserCache) -> Flask:
    return create_app(settings, engine=engine, parsers=parsers)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def phone(settings: Settings) -> Phone:
    """A 公众号 phone in safe mode."""
    return Phone(settings)


@pytest.fixture
def plain_settings(settings: Settings) -> Settings:
    """The same town with its 公众号 in plaintext mode (明文模式): the key is set but unused."""
    return settings.model_copy(update={"wechat_mode": "plaintext"})


@pytest.fixture
def plain_client(plain_settings: Settings, engine: Engine, parsers: ParserCache) -> FlaskClient:
    """A client of the app whose 公众号 is in plaintext mode, on this test's database."""
    return create_app(plain_settings, engine=engine, parsers=parsers).test_client()


@pytest.fixture
def plain_phone(plain_settings: Settings) -> Phone:
    """A 公众号 phone in plaintext mode (post with `plain_client`: safe mode refuses it)."""
    return Phone(plain_settings)


@pytest.fixture
def compatible_settings(settings: Settings) -> Settings:
    """The same town with its 公众号 in compatible mode (兼容模式)."""
    return settings.model_copy(update={"wechat_mode": "compatible"})


@pytest.fixture
def compatible_client(
    compatible_settings: Settings, engine: Engine, parsers: ParserCache
) -> FlaskClient:
    """A client of the app whose 公众号 is in compatible mode, on this test's database."""
    return create_app(compatible_settings, engine=engine, parsers=parsers).test_client()


@pytest.fixture
def compatible_phone(compatible_settings: Settings) -> Phone:
    """A 公众号 phone in compatible mode: plaintext fields beside a signed <Encrypt>."""
    return Phone(compatible_settings)


@pytest.fixture
def wecom_phone(settings: Settings) -> Phone:
    return Phone(settings, wecom=True)


@pytest.fixture
def run_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `grievance-bot ARGS…` in-process against this test's database and instance folder."""
    from click.testing import CliRunner

    from bot.cli import main
    from config.settings import get_settings

    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("GRIEVANCE_INSTANCE_PATH", str(settings.instance_path))
    get_settings.cache_clear()

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    yield run
    get_settings.cache_clear()
