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

from sqlalchemy import Engine
from sqlmodel import Session

from bot import texts as cli_texts
from config.calendar import TIMEZONE
from config.office import OfficeConfig
from config.settings import Settings
from handlers import texts
from handlers.assignment import category_name, place_label
from handlers.router import Context
from handlers.views import local_due
from models.db import read_session, unit_of_work
from models.figures import Figures, compute_figures, format_percent
from models.outbox import enqueue
from models.person import Person, Role
from models.place import Place
from models.tickets import open_tickets_of
from models.workload import (
    busiest_categories,
    busiest_villages,
    open_assignee_ids,
    open_count,
    overdue_in,
    people_with_roles,
)

# WeChat text messages hold 2048 bytes; about 600 Chinese characters leave room to spare.
MAX_MESSAGE_CHARS = 600
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


def _enqueue(session: Session, digest: Digest, now: datetime) -> int:
    parts = split_message(digest.text)
    written = 0
    for index, part in enumerate(parts, start=1):
        numbered = f"({index}/{len(parts)})\n{part}" if len(parts) > 1 else part
        sent = enqueue(
            session,
            person_id=digest.person_id,
            kind="digest",
            text=numbered,
            now=now,
            dedup_key=f"digest:{digest.key}:{index}",
        )
        written += 1 if sent is not None else 0
    return written


def cadre_digest(ctx: Context, person: Person) -> str | None:
    """A cadre's open tickets, overdue first; None when they have none."""
    assert person.id is not None
    total = open_count(ctx.session, person.id)
    if not total:
        return None
    tickets = open_tickets_of(ctx.session, person.id, ctx.now, limit=15)
    overdue = open_count(ctx.session, person.id, overdue_at=ctx.now)
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
    session = ctx.session
    week_start, week_end = last_week(ctx.now)
    config = ctx.office.figures
    this_week = compute_figures(
        session, start=week_start, end=week_end, as_of=ctx.now, place=place, config=config
    )
    overall = compute_figures(
        session, start=EPOCH, end=ctx.now, as_of=ctx.now, place=place, config=config
    )
    lines = [
        texts.DIGEST_OVERSEER_HEADER.format(name=person.name, place=place.name),
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
    return "\n".join(lines)


def weekly_digests(ctx: Context, week: str) -> tuple[list[Digest], DigestCounts]:
    """Every digest of the week `week` (e.g. "2026-12-07"), built from the tickets."""
    session = ctx.session
    counts = DigestCounts()
    digests: list[Digest] = []
    for person_id in open_assignee_ids(session):
        person = session.get(Person, person_id)
        if person is None or not person.active:
            continue
        text = cadre_digest(ctx, person)
        if text is not None:
            digests.append(Digest(person_id, text, f"{week}:{person_id}"))
            counts.cadres += 1
    for person in people_with_roles(session, {Role.dispatcher, Role.leader}):
        place = session.get(Place, person.place_id)
        if place is None or person.id is None:
            continue
        text = overseer_digest(ctx, person, place)
        digests.append(Digest(person.id, text, f"{week}:overview:{person.id}"))
        counts.overseers += 1
    return digests, counts


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
        counts.messages = sum(_enqueue(session, digest, now) for digest in digests)
    return counts
