"""`grievance-bot admin`: the first administrator, and the link that lets them in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.app import create_app
from config.settings import Settings
from models.person import Person, Role, roles_of
from tests.town import build_small_town


def test_grant_list_link_revoke(run_cli, settings: Settings, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    town = build_small_town(engine)
    assert "还没有管理员" in run_cli("admin", "list").output
    refused = run_cli("admin", "grant", "13800000000")
    assert refused.exit_code != 0 and "--name" in refused.output
    added = run_cli("admin", "grant", "13800000000", "--name", "镇管理员", "--place", "桃花镇")
    assert added.exit_code == 0, added.output
    existing = run_cli("admin", "grant", town.people["dispatcher"].phone)
    assert existing.exit_code == 0 and "赵调度" in existing.output
    listing = run_cli("admin", "list").output
    assert "镇管理员\t13800000000\t桃花镇" in listing and "赵调度" in listing
    with Session(engine) as session:
        person = session.get(Person, town.people["dispatcher"].id)
        assert person is not None and Role.admin in roles_of(session, person.id)  # type: ignore[arg-type]

    printed = run_cli("admin", "link", "13800000000")
    assert printed.exit_code == 0, printed.output
    url = re.search(r"http://\S+/l/\S+", printed.output)
    assert url, printed.output
    client: FlaskClient = create_app(settings, engine=engine).test_client()
    path = url.group(0).split("8000", 1)[1]
    assert client.get(path).status_code == 302
    assert "镇管理员" in client.get("/").get_data(as_text=True)

    assert run_cli("admin", "revoke", town.people["dispatcher"].phone).exit_code == 0
    assert "赵调度" not in run_cli("admin", "list").output
    assert run_cli("admin", "link", town.people["dispatcher"].phone).exit_code != 0
