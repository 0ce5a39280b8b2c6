"""The demo town 大栗港镇 as a fixture: put `pytest_plugins = ["tests.demo"]` in a test module.

Seeded fresh into each test's database (SQLite, and PostgreSQL when configured) through the
`engine` fixture; the returned handles (town, villages, dispatcher, leaders, units, 邻长 by group)
stay usable after the seeding transaction has committed.

PYTEST_DONT_REWRITE: modules also import `bind_openid` from here, before pytest loads this file as
a plugin; the marker keeps pytest from warning (an error in this suite) that it came too late to
rewrite this module's asserts.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from demo.town import DemoTown, seed_demo_town
from models.base import utcnow
from models.db import unit_of_work
from models.person import Person


@pytest.fixture
def demo_town(engine: Engine) -> DemoTown:
    """大栗港镇 with its whole generated roster, in this test's database."""
    with unit_of_work(engine) as session:
        return seed_demo_town(session)


def bind_openid(engine: Engine, person: Person, openid: str) -> Person:
    """Bind a 公众号 openid to a roster entry directly, as if `绑定` had been sent earlier."""
    with Session(engine, expire_on_commit=False) as session:
        stored = session.get(Person, person.id)
        assert stored is not None
        stored.wechat_openid = openid
        stored.bound_at = utcnow()
        session.add(stored)
        session.commit()
        person.wechat_openid = openid
        return stored
