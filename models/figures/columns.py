"""The tables a report reads, and the WHERE pieces every statement of it shares."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import String, and_, func, null
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlmodel import SQLModel

from models.person import Person, PersonRole
from models.place import Place
from models.ticket import Ticket

TICKET = SQLModel.metadata.tables[Ticket.__tablename__]
PLACE = SQLModel.metadata.tables[Place.__tablename__]
PERSON = SQLModel.metadata.tables[Person.__tablename__]
PERSON_ROLE = SQLModel.metadata.tables[PersonRole.__tablename__]


def plain(column: Any, sqlite: bool) -> Any:
    # SQLite gives DATETIME columns NUMERIC affinity, so every comparison of two stored strings
    # first tries to read them as numbers; a unary + strips the affinity (a quarter or so
    # of the grouped pass). PostgreSQL has real timestamps, and no unary + for them.
    if not sqlite:
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def path_within(path: Any, prefix: Any, sqlite: bool) -> ColumnElement[bool]:
    """`path` lies in the subtree whose path is `prefix` (a string or a path column)."""
    if not sqlite:
        return cast(ColumnElement[bool], path.like(prefix + "%"))
    # SQLite cannot use an index for LIKE, but can for a range: paths hold digits and "/", and
    # every path below "/1/4/" sorts before "/1/40" because "/" < "0".
    if isinstance(prefix, str):
        upper: Any = prefix[:-1] + "0"
    else:
        upper = func.substr(prefix, 1, func.length(prefix) - 1, type_=String).concat("0")
    return and_(path >= prefix, path < upper)


def null_of(type_: Any) -> Any:
    return sql_cast(null(), type_)


GROUP_COLUMNS: dict[str, Any] = {
    "village": TICKET.c.village_id,
    "category": TICKET.c.category,
    "assignee": TICKET.c.assignee_id,
}
