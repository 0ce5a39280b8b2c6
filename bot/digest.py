"""The weekly status push: each cadre's open work, each dispatcher's and leader's figures.

Runs as the `weekly_digest` job (Monday 08:30 Asia/Shanghai by default). Every digest goes
through the outbox with a key naming the week and the person, so however many workers run the
same slot, each person gets one digest a week.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine, insert
from sqlmodel import Session, col, select

from bot import texts as cli_texts
from config.calendar import TIMEZONE
from config.office import OfficeConfig
from config.settings import Settings
from handlers import texts
from handlers.assignment import category_name, place_label
from handlers.router import Context
from handlers.views import local_due
from models.db import read_session, unit_of_work
from models.figures import Figures, compute_counts, format_percent
from models.outbox import OutboxMessage, keys_with_prefix, outbox_row
from models.person import Person, Role
from models.place import Place
from models.ticket import Ticket
from models.tickets import open_tickets_of
from models.workload import (
    OpenByPlace,
    busiest_categories,
    busiest_villages,
    first_open_tickets,
    open_count,
    open_counts,
    overdue_in,
    people_with_roles,
)

# WeChat text messages hold 2048 bytes; about 600 Chinese characters leave room to spare.
MAX_MESSAGE_CHARS = 600
# A cadre's digest lists this many of their open tickets, then "and N more".
CADRE_LINES = 15
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class DigestCounts:
    """How many people got a digest, and in how many messages."""

    cadres: int = 0
    overseers: int = 0
    messages: int = 0

    def __str__(self) -> str:
        return (
            f"{self.cadres} cadres, {self.overseers} dispatchers/leaders, {self.messages} messages"
        )


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Cut a long digest at line ends into messages a phone shows whole."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            parts.extend([current] if current else [])
            parts.append(line[:limit])
            current, line = "", line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def last_week(now: datetime) -> tuple[datetime, datetime]:
    """The seven days before the Monday of `now` (Asia/Shanghai): "this week" of a Monday digest.

    A run caught up at 11:00, or on any later day of the week, still reports the same week.
    """
    local = now.astimezone(TIMEZONE).date()
    monday = datetime.combine(local - timedelta(days=local.weekday()), time(0), tzinfo=TIMEZONE)
    return (monday - timedelta(days=7)).astimezone(UTC), monday.astimezone(UTC)


@dataclass(frozen=True)
class Digest:
    """One person's digest, ready for the outbox."""

    person_id: int
    text: str
    key: str  # unique for the person and the week


def _rows(digest: Digest, now: datetime) -> list[dict[str, object]]:
    """The outbox rows of one digest: one per part, numbered when it takes several."""
    parts = split_message(digest.text)
    return [
        outbox_row(
            person_id=digest.person_id,
            kind="digest",
            text=f"({index}/{len(parts)})\n{part}" if len(parts) > 1 else part,
            now=now,
            dedup_key=f"digest:{digest.key}:{index}",
        )
        for index, part in enumerate(parts, start=1)
    ]


def _enqueue_all(session: Session, digests: list[Digest], week: str, now: datetime) -> int:
    """Write the digests' messages in one statement; those whose key is in the outbox already
    (another worker got there first) are left out. Returns how many were written."""
    present = keys_with_prefix(session, f"digest:{week}:")
    rows = [row for digest in digests for row in _rows(digest, now)]
    rows = [row for row in rows if row["dedup_key"] not in present]
    if rows:
        session.execute(insert(OutboxMessage), rows)
    return len(rows)


def cadre_digest(
    ctx: Context,
    person: Person,
    counts: tuple[int, int] | None = None,
    tickets: list[Ticket] | None = None,
) -> str | None:
    """A cadre's open tickets, overdue first; None when they have none.

    `counts` (open, overdue) and `tickets` (the first 15) come from the weekly run's batched
    queries; alone, the digest reads them itself.
    """
    assert person.id is not None
    if counts is None:
        counts = (open_count(ctx.session, person.id), 0)
        if counts[0]:
            counts = (counts[0], open_count(ctx.session, person.id, overdue_at=ctx.now))
    total, overdue = counts
    if not total:
        return None
    if tickets is None:
        tickets = open_tickets_of(ctx.session, person.id, ctx.now, limit=CADRE_LINES)
    lines = [texts.DIGEST_CADRE_HEADER.format(name=person.name, count=total, overdue=overdue)]
    for ticket in tickets:
        late = (
            texts.OVERDUE_MARK
            if ticket.resolve_due_at is not None and ticket.resolve_due_at < ctx.now
            else ""
        )
        lines.append(
            texts.DIGEST_CADRE_LINE.format(
                id=ticket.id,
                place=place_label(ctx.session, ticket),
                category=category_name(ctx.office, ticket.category),
                due=local_due(ticket.resolve_due_at),
                late=late,
            )
        )
    if total > len(tickets):
        lines.append(texts.DIGEST_MORE.format(count=total - len(tickets)))
    lines.append(texts.DIGEST_CADRE_FOOTER)
    return "\n".join(lines)


def _figures_line(label: str, figures: Figures) -> str:
    return texts.DIGEST_FIGURES.format(
        label=label,
        collected=figures.collected,
        resolved=figures.resolved,
        resolution=format_percent(figures.fraction("resolution_rate")),
        response=format_percent(figures.fraction("response_rate")),
        satisfaction=format_percent(figures.fraction("satisfaction_rate")),
    )


def overseer_digest(ctx: Context, person: Person, place: Place) -> str:
    """A dispatcher's or leader's view of their part of the tree."""
    header = texts.DIGEST_OVERSEER_HEADER.format(name=person.name, place=place.name)
    return "\n".join([header, *_place_lines(ctx, place)])


def _place_lines(ctx: Context, place: Place, open_work: OpenByPlace | None = None) -> list[str]:
    """The lines of an overseer's digest after the greeting: the same for everyone at `place`.

    `open_work`, the open tickets counted once for the whole run, gives the busiest villages and
    categories of any place at or above a village without a query of its own.
    """
    session = ctx.session
    week_start, week_end = last_week(ctx.now)
    this_week = compute_counts(session, start=week_start, end=week_end, as_of=ctx.now, place=place)
    overall = compute_counts(session, start=EPOCH, end=ctx.now, as_of=ctx.now, place=place)
    lines = [
        _figures_line(texts.DIGEST_THIS_WEEK, this_week),
        _figures_line(texts.DIGEST_CUMULATIVE, overall),
    ]
    late, late_total = overdue_in(session, place, ctx.now, limit=10)
    lines.append(texts.DIGEST_OVERDUE_HEADER.format(count=late_total))
    for ticket, assignee in late:
        lines.append(
            texts.DIGEST_OVERDUE_LINE.format(
                id=ticket.id,
                place=place_label(session, ticket),
                assignee=assignee.name if assignee else "—",
                due=local_due(ticket.resolve_due_at),
            )
        )
    if open_work is not None and open_work.covers(place):
        by_village = open_work.busiest_villages(place, limit=3)
        by_category = open_work.busiest_categories(place, limit=3)
    else:
        by_village = busiest_villages(session, place, limit=3)
        by_category = busiest_categories(session, place, limit=3)
    if by_village:
        most = cli_texts.LIST_JOIN.join(
            cli_texts.DIGEST_TOP_ITEM.format(name=name, count=count) for name, count in by_village
        )
        lines.append(texts.DIGEST_TOP_VILLAGES.format(list=most))
    if by_category:
        most = cli_texts.LIST_JOIN.join(
            cli_texts.DIGEST_TOP_ITEM.format(name=category_name(ctx.office, code), count=count)
            for code, count in by_category
        )
        lines.append(texts.DIGEST_TOP_CATEGORIES.format(list=most))
    return lines


def weekly_digests(ctx: Context, week: str) -> tuple[list[Digest], DigestCounts]:
    """Every digest of the week `week` (e.g. "2026-12-07") not yet in the outbox.

    What everyone is owed is read in a few grouped queries (open and overdue counts per
    assignee, each assignee's first tickets in one windowed query, the people and villages
    named); a digest already written this week is counted but not built again, and the
    dispatchers and leaders of one place share one computation of its figures.
    """
    session = ctx.session
    counts = DigestCounts()
    digests: list[Digest] = []
    written = {key.rpartition(":")[0] for key in keys_with_prefix(session, f"digest:{week}:")}
    owed = open_counts(session, ctx.now)
    people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(owed)))}
    cadres = sorted(i for i in owed if (p := people.get(i)) is not None and p.active)
    due = [i for i in cadres if f"digest:{week}:{i}" not in written]
    firsts = first_open_tickets(session, due, ctx.now, CADRE_LINES)
    villages = _villages_of([t for tickets in firsts.values() for t in tickets], session)
    for person_id in cadres:
        counts.cadres += 1
        if person_id not in firsts:  # written already (or, impossibly, nothing open)
            continue
        text = cadre_digest(ctx, people[person_id], owed[person_id], firsts[person_id])
        if text is not None:
            digests.append(Digest(person_id, text, f"{week}:{person_id}"))
    del villages  # held until here so that place labels are read from the session's map
    by_place: dict[int, list[str]] = {}
    open_work: OpenByPlace | None = None
    for person in people_with_roles(session, {Role.dispatcher, Role.leader}):
        place = session.get(Place, person.place_id)
        if place is None or person.id is None or place.id is None:
            continue
        counts.overseers += 1
        if f"digest:{week}:overview:{person.id}" in written:
            continue
        if place.id not in by_place:
            open_work = open_work or OpenByPlace.read(session)
            by_place[place.id] = _place_lines(ctx, place, open_work)
        header = texts.DIGEST_OVERSEER_HEADER.format(name=person.name, place=place.name)
        text = "\n".join([header, *by_place[place.id]])
        digests.append(Digest(person.id, text, f"{week}:overview:{person.id}"))
    return digests, counts


def _villages_of(tickets: list[Ticket], session: Session) -> list[Place]:
    """The villages of these tickets, read in one statement and held by the caller."""
    ids = {t.village_id for t in tickets if t.village_id is not None}
    if not ids:
        return []
    return list(session.exec(select(Place).where(col(Place.id).in_(ids))))


def send_weekly_digests(
    engine: Engine,
    settings: Settings,
    office: OfficeConfig,
    now: datetime,
    week: str,
    *,
    transaction: Callable[[], AbstractContextManager[Session]] | None = None,
) -> DigestCounts:
    """Build the digests in a read-only session, then write them to the outbox.

    The figures take a while on a large county; building them outside the write transaction
    keeps the webhook answering meanwhile. The outbox keys make a repeated run write nothing.
    `transaction` is where they are written (default: one unit of work; a dry run's is undone).
    """
    with read_session(engine) as session:
        context = Context(session=session, settings=settings, now=now, office=office)
        digests, counts = weekly_digests(context, week)
    with (transaction or (lambda: unit_of_work(engine)))() as session:
        counts.messages = _enqueue_all(session, digests, week, now)
    return counts
