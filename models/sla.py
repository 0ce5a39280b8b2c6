"""The SLA sweep: remind before a deadline, escalate when it passes, 督办 after a further delay.

An idempotent, batch-limited sweep over the `ack_due_at` / `resolve_due_at` columns of open
tickets. Each step (reminder, escalation, 督办) is sent once per ticket and deadline, however often
the sweep runs and however many workers run it: a TicketAlert row (unique ticket + kind + deadline)
is written in the same transaction as the messages, and a second writer meets the unique key.
A new deadline (re-assignment, extension) is a new key, so its steps are sent afresh.

Models never import handlers, so the wording arrives as an `AlertTexts` bundle that the job layer
(bot/scheduler.py) builds from handlers/texts.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.calendar import WorkCalendar, deadline_clock
from config.sla import SlaConfig
from models import texts as model_texts
from models.deadlines import due_after, reminder_at
from models.outbox import enqueue
from models.person import Coverage, Person, Role, roles_of
from models.place import Place
from models.routing import active_person, nearest_with_role, unit_head_of
from models.ticket import Ticket, TicketAlert, TicketEvent, TicketState

log = logging.getLogger(__name__)

DEADLINES = ("ack", "resolve")
# While a ticket waits for 签收 the ack deadline runs; while someone holds it, the resolve one.
# Returned and reopened tickets wait for the dispatcher and get fresh deadlines when re-assigned.
ACK_STATES = (TicketState.assigned.value,)
RESOLVE_STATES = (
    TicketState.assigned.value,
    TicketState.accepted.value,
    TicketState.in_progress.value,
)
PAGE_SIZE = 500


@dataclass(frozen=True)
class AlertTexts:
    """The sweep's wording; each template may use {id} {summary} {place} {assignee} {supervisor}
    {deadline} {due}, the notes {names} too (see handlers/texts.py)."""

    deadline_names: Mapping[str, str]  # "ack" / "resolve" -> 签收 / 办结
    reminders: Mapping[str, str]  # "ack" / "resolve" -> the reminder to the assignee
    overdue: str  # to the assignee, when the deadline passed and the supervisor was told
    escalation: str  # to the supervisor
    leader: str  # to the leader (督办)
    note_reminded: str
    note_escalated: str
    note_leader: str
    nobody: str  # {names} when the roster has nobody to tell
    due: str  # {month} {day} {hour} {minute} of the deadline in Asia/Shanghai


@dataclass
class SweepResult:
    """What one sweep did; `more` says the batch limit stopped it before the end."""

    reminded: int = 0
    escalated: int = 0
    leader: int = 0
    more: bool = False

    @property
    def steps(self) -> int:
        """Reminders, escalations and 督办 sent."""
        return self.reminded + self.escalated + self.leader

    def __str__(self) -> str:
        more = " (more to do)" if self.more else ""
        return model_texts.SLA_SWEEP_COUNTS.format(
            reminded=self.reminded, escalated=self.escalated, leader=self.leader, more=more
        )


def sla_sweep(
    session: Session,
    now: datetime,
    *,
    texts: AlertTexts,
    sla: SlaConfig,
    calendar: WorkCalendar,
    limit: int | None = None,
) -> SweepResult:
    """Send every reminder, escalation and 督办 due at `now`, at most `limit` steps per call."""
    sweep = _Sweep(session, now, texts, sla, calendar)
    limit = limit if limit is not None else sweep.sla.schedule.batch_size
    for deadline in DEADLINES:
        for ticket, sent in _candidates(session, deadline):
            if sweep.result.steps >= limit:
                sweep.result.more = True
                return sweep.result
            sweep.ticket(ticket, deadline, sent, limit)
    return sweep.result


def _due(ticket: Ticket, deadline: str) -> datetime | None:
    return ticket.ack_due_at if deadline == "ack" else ticket.resolve_due_at


def _candidates(session: Session, deadline: str) -> Iterator[tuple[Ticket, set[str]]]:
    """Open tickets with this deadline whose 督办 is not sent yet, earliest deadline first.

    Pages by (deadline, id) so that a large county never loads every open ticket at once; yields
    each ticket with the steps already sent for its current deadline.
    """
    due = col(Ticket.ack_due_at if deadline == "ack" else Ticket.resolve_due_at)
    states = ACK_STATES if deadline == "ack" else RESOLVE_STATES
    finished = exists().where(
        col(TicketAlert.ticket_id) == col(Ticket.id),
        col(TicketAlert.kind) == f"leader_{deadline}",
        col(TicketAlert.deadline_at) == due,
    )
    after: tuple[datetime, int] | None = None
    while True:
        stmt = select(Ticket).where(
            col(Ticket.state).in_(states),
            due.is_not(None),
            col(Ticket.assignee_id).is_not(None),
            ~finished,
        )
        if after is not None:
            stmt = stmt.where(or_(due > after[0], and_(due == after[0], col(Ticket.id) > after[1])))
        page = list(session.exec(stmt.order_by(due, col(Ticket.id)).limit(PAGE_SIZE)))
        if not page:
            return
        ids = [t.id for t in page]
        alerts = session.exec(select(TicketAlert).where(col(TicketAlert.ticket_id).in_(ids)))
        sent: dict[tuple[int, datetime], set[str]] = {}
        for alert in alerts:
            sent.setdefault((alert.ticket_id, alert.deadline_at), set()).add(alert.kind)
        for ticket in page:
            ticket_due = _due(ticket, deadline)
            assert ticket.id is not None and ticket_due is not None
            yield ticket, sent.get((ticket.id, ticket_due), set())
        last = page[-1]
        last_due = _due(last, deadline)
        assert last.id is not None and last_due is not None
        after = (last_due, last.id)
        if len(page) < PAGE_SIZE:
            return


class _Sweep:
    """One sweep's state: its clock, config, wording, tallies and small caches."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        texts: AlertTexts,
        sla: SlaConfig,
        calendar: WorkCalendar,
    ) -> None:
        self.session = session
        self.now = now
        self.texts = texts
        self.sla = sla
        self.calendar = calendar
        self.result = SweepResult()
        self._places: dict[int, str] = {}
        # A catch-up after downtime escalates many tickets of the same few people and places.
        self._ladder: dict[tuple[str, int | None, str], list[Person]] = {}

    def ticket(self, ticket: Ticket, deadline: str, sent: set[str], limit: int) -> None:
        """Send the steps of one ticket's deadline that are due and not sent yet."""
        due = _due(ticket, deadline)
        assert due is not None
        if self.now < due and f"remind_{deadline}" in sent:
            return
        limits = self.sla.limits_for(ticket.urgent, ticket.category)
        limit_kind = limits.ack if deadline == "ack" else limits.resolve
        start = ticket.assigned_at or ticket.created_at
        steps: list[str] = []
        if self.now >= due:
            # Past the deadline a reminder is pointless: only escalations are (still) sent.
            steps.append("escalate")
            if self.now >= due_after(due, self.sla.leader_after, self.calendar):
                steps.append("leader")
        elif self.now >= reminder_at(
            start, due, limit_kind, self.sla.reminder_threshold, self.calendar
        ):
            steps.append("remind")
        for step in steps:
            if f"{step}_{deadline}" in sent:
                continue
            if self.result.steps >= limit:
                self.result.more = True
                return
            self._send(ticket, deadline, due, step)

    def _send(self, ticket: Ticket, deadline: str, due: datetime, step: str) -> None:
        assert ticket.id is not None and ticket.assignee_id is not None
        kind = f"{step}_{deadline}"
        alert = TicketAlert(ticket_id=ticket.id, kind=kind, deadline_at=due, sent_at=self.now)
        try:
            with self.session.begin_nested():
                self.session.add(alert)
        except IntegrityError:
            return  # another sweep sent this step a moment ago
        assignee = self.session.get(Person, ticket.assignee_id)
        if assignee is None:
            return
        supervisors = self._supervisors(ticket, assignee)
        fields = self._fields(ticket, deadline, due, assignee, supervisors)
        if step == "remind":
            told = [assignee]
            self._tell(assignee, ticket, kind, due, self.texts.reminders[deadline], fields)
            note, event_kind = self.texts.note_reminded, "reminded"
            self.result.reminded += 1
        elif step == "escalate":
            told = supervisors
            for person in supervisors:
                self._tell(person, ticket, kind, due, self.texts.escalation, fields)
            self._tell(assignee, ticket, f"overdue_{deadline}", due, self.texts.overdue, fields)
            note, event_kind = self.texts.note_escalated, "escalated"
            self.result.escalated += 1
        else:
            told = self._leaders(ticket, assignee, supervisors)
            for person in told:
                self._tell(person, ticket, kind, due, self.texts.leader, fields)
            note, event_kind = self.texts.note_leader, "escalated"
            self.result.leader += 1
        if not told:
            log.warning("ticket %s: nobody on the roster to receive %s", ticket.id, kind)
        names = model_texts.LIST_JOIN.join(p.name for p in told) or self.texts.nobody
        self.session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=self.now,
                kind=event_kind,
                note=note.format(**{**fields, "names": names}),
            )
        )
        self.session.flush()

    def _tell(
        self,
        person: Person,
        ticket: Ticket,
        kind: str,
        due: datetime,
        template: str,
        fields: dict[str, object],
    ) -> None:
        enqueue(
            self.session,
            person_id=person.id,
            kind=f"sla_{kind}",
            text=template.format(**fields),
            now=self.now,
            ticket_id=ticket.id,
            # One message per person, ticket, step and deadline even if a sweep is repeated.
            dedup_key=f"sla:{ticket.id}:{kind}:{due.isoformat()}:{person.id}",
            data={"ticket": ticket.id, "step": kind, "due": due.isoformat()},
        )

    def _fields(
        self,
        ticket: Ticket,
        deadline: str,
        due: datetime,
        assignee: Person,
        supervisors: list[Person],
    ) -> dict[str, object]:
        month, day, hour, minute = deadline_clock(due)
        return {
            "id": ticket.id,
            "summary": ticket.summary or ticket.text[:30],
            "place": self._place_name(ticket.village_id or ticket.place_id),
            "assignee": assignee.name,
            "supervisor": (
                model_texts.LIST_JOIN.join(p.name for p in supervisors) or self.texts.nobody
            ),
            "deadline": self.texts.deadline_names[deadline],
            "due": self.texts.due.format(month=month, day=day, hour=hour, minute=minute),
        }

    def _supervisors(self, ticket: Ticket, assignee: Person) -> list[Person]:
        key = ("supervisors", assignee.id, f"{ticket.village_id}:{ticket.place_path}")
        if key not in self._ladder:
            self._ladder[key] = supervisors_for(self.session, ticket, assignee)
        return self._ladder[key]

    def _leaders(self, ticket: Ticket, assignee: Person, supervisors: list[Person]) -> list[Person]:
        key = ("leaders", assignee.id, f"{ticket.village_id}:{ticket.place_path}")
        if key not in self._ladder:
            self._ladder[key] = leaders_for(self.session, ticket, assignee, supervisors)
        return self._ladder[key]

    def _place_name(self, place_id: int | None) -> str:
        if place_id is None:
            return ""
        if place_id not in self._places:
            place = self.session.get(Place, place_id)
            self._places[place_id] = place.name if place else ""
        return self._places[place_id]


def _place_chain(ticket: Ticket) -> list[int]:
    """The ids of the ticket's place and every place above it, nearest first."""
    return [int(part) for part in reversed(ticket.place_path.strip("/").split("/")) if part]


def _nearest_with_role(
    session: Session, ticket: Ticket, role: Role, exclude: set[int]
) -> list[Person]:
    """Everyone holding `role` at the nearest place above the ticket that has any."""
    return nearest_with_role(session, role, _place_chain(ticket), exclude)


def supervisors_for(session: Session, ticket: Ticket, assignee: Person) -> list[Person]:
    """Who hears of a passed deadline: the assignee's supervisor on the roster; else, by role,
    the village's 包村干部 (for a village cadre) or the unit head (for a unit member); else the
    dispatchers above the ticket's place."""
    assert assignee.id is not None
    exclude = {assignee.id}
    explicit = active_person(session, assignee.supervisor_id, exclude)
    if explicit is not None:
        return [explicit]
    roles = roles_of(session, assignee.id)
    if Role.village_cadre in roles and ticket.village_id is not None:
        stmt = (
            select(Coverage.person_id)
            .where(Coverage.place_id == ticket.village_id, Coverage.role == Role.liaison.value)
            .order_by(col(Coverage.person_id))
        )
        for person_id in session.exec(stmt):
            liaison = active_person(session, person_id, exclude)
            if liaison is not None:
                return [liaison]
    if Role.unit_member in roles and assignee.unit_id is not None:
        head = unit_head_of(session, assignee.unit_id, exclude)
        if head is not None:
            return [head]
    return _nearest_with_role(session, ticket, Role.dispatcher, exclude)


def leaders_for(
    session: Session, ticket: Ticket, assignee: Person, supervisors: list[Person]
) -> list[Person]:
    """Who is asked to 督办: the supervisor's own supervisor when that is a leader; else the
    leaders at the nearest place above the ticket; never someone already told."""
    exclude = {p.id for p in [assignee, *supervisors] if p.id is not None}
    for supervisor in supervisors:
        above = active_person(session, supervisor.supervisor_id, exclude)
        if above is None or above.id is None:
            continue
        if Role.leader in roles_of(session, above.id):
            return [above]
    return _nearest_with_role(session, ticket, Role.leader, exclude)
