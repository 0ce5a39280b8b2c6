"""Which tickets a person may see: one query for every page, export and media file.

- 邻长 (and 组长, 片长): the tickets they reported, and those their own reports were merged into.
- A handler (村干部, 包村干部, 站所): tickets assigned to them; tickets in the places they answer
  for (their coverage, as the routing uses it); a unit head also those of the unit's members.
- Dispatcher and leader: every ticket in the subtree of their own place, and those of no known
  place (the office has to route them).
- Admin: every ticket.
A person holding several roles sees the union. An inactive person sees nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from models.person import REPORTER_ROLES, Coverage, Person, Role, roles_of
from models.place import Place
from models.ticket import Ticket

SUBTREE_ROLES = frozenset({Role.dispatcher, Role.leader})


def scope_clause(session: Session, person: Person) -> Any:
    """A WHERE clause on `Ticket`: true for exactly the tickets `person` may see."""
    if not person.active or person.id is None:
        return false()
    roles = roles_of(session, person.id)
    if Role.admin in roles:
        return true()
    clauses: list[Any] = []
    if roles & REPORTER_ROLES:
        merged = aliased(Ticket)
        clauses.append(col(Ticket.reporter_id) == person.id)
        clauses.append(
            col(Ticket.id).in_(
                select(merged.duplicate_of_id).where(
                    merged.reporter_id == person.id, col(merged.duplicate_of_id).is_not(None)
                )
            )
        )
    if roles - REPORTER_ROLES:
        clauses.append(col(Ticket.assignee_id) == person.id)
        covered = select(Place.path).join(Coverage, col(Coverage.place_id) == Place.id)
        for path in session.exec(covered.where(Coverage.person_id == person.id)):
            clauses.append(col(Ticket.place_path).startswith(path))
    if Role.unit_head in roles and person.unit_id is not None:
        members = select(Person.id).where(Person.unit_id == person.unit_id)
        clauses.append(col(Ticket.assignee_id).in_(members))
    if roles & SUBTREE_ROLES:
        own = session.get(Place, person.place_id)
        if own is not None:
            clauses.append(col(Ticket.place_path).startswith(own.path))
        # A ticket whose place nobody could tell lies in no subtree: the office routes it.
        clauses.append(col(Ticket.place_path) == "/")
    return or_(*clauses) if clauses else false()


def visible_tickets(session: Session, person: Person) -> Any:
    """`select(Ticket)` limited to the person's scope; callers add filters and order."""
    return select(Ticket).where(scope_clause(session, person))


def may_see(session: Session, person: Person, ticket_id: int) -> bool:
    """Whether `person` may see ticket `ticket_id` (the same rule as every list)."""
    stmt = (
        select(func.count())
        .select_from(Ticket)
        .where(col(Ticket.id) == ticket_id, scope_clause(session, person))
    )
    return bool(session.exec(stmt).one())
