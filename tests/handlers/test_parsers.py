"""The app's parser cache: one parser per app, rebuilt only when the villages change."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from bot.app import create_app
from config.office import load_office
from config.settings import Settings
from handlers.parsers import ParserCache
from models.place import PlaceKind, add_place


def test_the_parser_is_kept_until_the_villages_change(engine: Engine, settings: Settings) -> None:
    taxonomy = load_office(settings).taxonomy
    cache = ParserCache()
    with Session(engine) as session:
        town = add_place(session, "桃花镇", PlaceKind.town)
        add_place(session, "张家村", PlaceKind.village, town)
        session.flush()
        first = cache.parser(session, taxonomy)
        assert cache.parser(session, taxonomy) is first
        # Another load of the same files reads the same categories: the same parser serves.
        assert cache.parser(session, load_office(settings).taxonomy) is first
        add_place(session, "李家村", PlaceKind.village, town)
        session.flush()
        second = cache.parser(session, taxonomy)
        assert second is not first
        assert second.parse("李家村3组路灯坏了", None, None).village == "李家村"
        session.rollback()


def test_each_app_owns_its_cache_unless_given_one(engine: Engine, settings: Settings) -> None:
    shared = ParserCache()
    one, two = create_app(settings, engine=engine), create_app(settings, engine=engine)
    assert one.extensions["grievance"]["parsers"] is not two.extensions["grievance"]["parsers"]
    given = create_app(settings, engine=engine, parsers=shared)
    assert given.extensions["grievance"]["parsers"] is shared
    assert given.extensions["grievance"]["inbox"].parsers is shared
