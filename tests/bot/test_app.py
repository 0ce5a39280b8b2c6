"""An app keeps the office files of its own settings, whatever the process's environment says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.app import create_app
from bot.phone import Phone
from config.settings import Settings, get_settings
from demo.town import DemoTown
from handlers import texts
from models.person import Person
from models.ticket import Ticket
from tests.builders import say
from tests.deadline_town import cst
from tests.demo import bind_openid

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 30 November, 10:00 in Asia/Shanghai

# The environment's files: what `get_settings()` would read in this process.
ENV_SLA = """
[limits.urgent]
ack = "45 minutes"
resolve = "9 hours"
[limits.normal]
ack = "45 minutes"
resolve = "9 hours"
"""
# The app's own: shorter limits, a longer extension allowed, and its own holidays.
APP_SLA = """
[limits.urgent]
ack = "30 minutes"
resolve = "5 hours"
[limits.normal]
ack = "30 minutes"
resolve = "5 hours"
[extension]
max_working_days = 20
"""
APP_HOLIDAYS = '[2026]\nholidays = ["2026-12-01..2026-12-04"]\n'


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """GRIEVANCE_SLA_FILE names another SLA file than the app's settings do."""
    env_sla = tmp_path / "env-sla.toml"
    env_sla.write_text(ENV_SLA, encoding="utf-8")
    monkeypatch.setenv("GRIEVANCE_SLA_FILE", str(env_sla))
    get_settings.cache_clear()
    assert get_settings().sla_file == env_sla
    yield
    get_settings.cache_clear()


def test_an_app_sets_deadlines_from_its_own_sla_and_calendar(
    demo_town: DemoTown,
    engine: Engine,
    settings: Settings,
    phone: Phone,
    wecom_phone: Phone,
    tmp_path: Path,
    environment: None,
) -> None:
    app_sla, app_holidays = tmp_path / "app-sla.toml", tmp_path / "app-holidays.toml"
    app_sla.write_text(APP_SLA, encoding="utf-8")
    app_holidays.write_text(APP_HOLIDAYS, encoding="utf-8")
    own = settings.model_copy(update={"sla_file": app_sla, "holidays_file": app_holidays})
    client = create_app(own, engine=engine, clock=lambda: NOW).test_client()

    reporter = demo_town.neighbour_heads[("张家村", 1)][0]
    bind_openid(engine, reporter, "o-own-sla")
    say(client, phone, "o-own-sla", "我们组的自来水停了两天了，麻烦派人来修一下")
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
        assert ticket is not None and ticket.assignee_id is not None
        assignee = session.get(Person, ticket.assignee_id)
    assert assignee is not None and assignee.wecom_userid
    # The app's 30 minutes and 5 hours, not the environment's 45 minutes and 9 hours.
    assert ticket.assigned_at == NOW
    assert ticket.ack_due_at == NOW + timedelta(minutes=30)
    assert ticket.resolve_due_at == NOW + timedelta(hours=5)

    # An extension of 18 working days: over the default 15, within the app's 20 …
    reply = say(client, wecom_phone, assignee.wecom_userid, f"延期 {ticket.id} 18 等材料到货")
    assert reply == texts.EXTENSION_REQUESTED.format(id=ticket.id, days=18)
    dispatcher = demo_town.dispatcher.wecom_userid or ""
    say(client, wecom_phone, dispatcher, f"同意 {ticket.id}")
    with Session(engine) as session:
        extended = session.get(Ticket, ticket.id)
        assert extended is not None
    # … counted on the app's calendar, where 1–4 December are days off: 18 working days after
    # Monday 30 November 15:00 end on Wednesday 30 December (on the official one: the 24th).
    assert extended.resolve_due_at == cst(2026, 12, 30, 15, 0)


def test_the_offices_category_names_are_shown_everywhere(
    demo_town: DemoTown,
    engine: Engine,
    settings: Settings,
    phone: Phone,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli,  # type: ignore[no-untyped-def]
) -> None:
    default = (Path(__file__).resolve().parents[2] / "config" / "taxonomy.toml").read_text("utf-8")
    assert '"名称" = "饮水供水"' in default
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(default.replace('"名称" = "饮水供水"', '"名称" = "自来水管护"'), "utf-8")
    # The office names its taxonomy once, for the server and for its commands alike.
    monkeypatch.setenv("GRIEVANCE_TAXONOMY_FILE", str(taxonomy))
    get_settings.cache_clear()
    own = settings.model_copy(update={"taxonomy_file": taxonomy})
    client = create_app(own, engine=engine, clock=lambda: NOW).test_client()
    reporter = demo_town.neighbour_heads[("张家村", 1)][0]
    bind_openid(engine, reporter, "o-names")

    reply = say(client, phone, "o-names", "我们组的自来水停了两天了，麻烦赶紧派人来修")
    assert "【自来水管护】" in reply
    with Session(engine) as session:
        ticket = session.exec(select(Ticket)).one()
    assert ticket.category == "water"

    november = ("--from", "2026-11-01", "--to", "2026-11-30")
    table = run_cli("report", *november, "--by", "category")
    assert table.exit_code == 0, table.output
    assert "自来水管护" in table.output and "饮水供水" not in table.output
    path = tmp_path / "台账.xlsx"
    assert run_cli("report", *november, "--xlsx", str(path)).exit_code == 0
    rows = list(load_workbook(path)["台账"].iter_rows(values_only=True))
    assert dict(zip(rows[0], rows[1], strict=True))["问题类别"] == "自来水管护"
    digest = run_cli("jobs", "run", "weekly_digest", "--now", "2026-11-30T10:30:00+08:00")
    assert digest.exit_code == 0, digest.output
    assert f"#{ticket.id} 张家村1组【自来水管护】" in digest.output  # the assignee's list
    assert "未办结最多的类别：自来水管护1件" in digest.output  # the dispatcher's overview
    assert "饮水供水" not in digest.output
