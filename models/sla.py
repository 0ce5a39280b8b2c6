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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from config.calendar import WorkCalendar, deadline_clock
from config.sla import SlaConfig
from models import texts as model_texts
from models.deadlines import due_after, next_alert_at, reminder_at
from models.outbox import OutboxMessage, outbox_row
from models.person import Coverage, Person, PersonRole, Role, roles_of
from models.place import Place
from models.routing import active_person, unit_head_of
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
# Tickets per call: one call is one transaction, and on SQLite the webhook waits while it runs.
PAGE_SIZE = 200


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
    tickets: int = PAGE_SIZE,
) -> SweepResult:
    """Send every reminder, escalation and 督办 due at `now`, at most `limit` steps and `tickets`
    tickets per call, in the caller's one transaction (`more`: call again)."""
    plan = plan_sweep(
        session, now, texts=texts, sla=sla, calendar=calendar, limit=limit, tickets=tickets
    )
    return plan.write(session)


def plan_sweep(
    session: Session,
    now: datetime,
    *,
    texts: AlertTexts,
    sla: SlaConfig,
    calendar: WorkCalendar,
    limit: int | None = None,
    tickets: int = PAGE_SIZE,
) -> SweepPlan:
    """What a sweep at `now` would write, read without writing (a read-only session will do).

    Reads the due tickets (one indexed range), the steps already sent for them, and the people,
    roles and places the messages need, a statement each; `SweepPlan.write` then writes the
    alerts, messages, timeline lines and each ticket's next look in a few multi-row statements,
    so a job can keep SQLite's writer for the writing alone.
    """
    plan = SweepPlan(session, now, texts, sla, calendar)
    limit = limit if limit is not None else sla.schedule.batch_size
    page = _due_tickets(session, now, tickets)
    sent = _sent_steps(session, page)
    plan.preload(page)
    for ticket in page:
        assert ticket.id is not None
        steps: list[tuple[str, datetime, str]] = []
        for deadline in _watched_deadlines(ticket):
            due = _due(ticket, deadline)
            assert due is not None
            done = sent.get((ticket.id, deadline, due), set())
            steps += [(deadline, due, step) for step in plan.due_steps(ticket, deadline, due, done)]
        if steps and plan.result.steps + len(steps) > limit and plan.result.steps:
            plan.result.more = True  # this ticket keeps its due next_alert_at for the next call
            break
        for deadline, due, step in steps:
            plan.send(ticket, deadline, due, step)
            sent.setdefault((ticket.id, deadline, due), set()).add(step)
        looks = {d: sent.get((ticket.id, d, _due(ticket, d) or now), set()) for d in DEADLINES}
        plan.look_again(ticket, next_alert_at(ticket, looks, sla=sla, calendar=calendar))
    plan.result.more = plan.result.more or len(page) == tickets
    return plan


def _due(ticket: Ticket, deadline: str) -> datetime | None:
    return ticket.ack_due_at if deadline == "ack" else ticket.resolve_due_at


def _watched_deadlines(ticket: Ticket) -> list[str]:
    """The deadlines that run for this ticket now (签收 only while it waits for 签收)."""
    states = {"ack": ACK_STATES, "resolve": RESOLVE_STATES}
    return [
        deadline
        for deadline in DEADLINES
        if ticket.state in states[deadline] and _due(ticket, deadline) is not None
    ]


def _due_tickets(session: Session, now: datetime, tickets: int) -> list[Ticket]:
    """The tickets whose next step may have come, oldest first: one indexed range read.

    A ticket nobody holds, or that left the watched states, has no next_alert_at (models.ticket
    keeps it so), so the rows read are the work to do and nothing else.
    """
    stmt = (
        select(Ticket)
        .where(col(Ticket.next_alert_at) <= now)
        .order_by(col(Ticket.next_alert_at), col(Ticket.id))
        .limit(tickets)
    )
    return list(session.exec(stmt))


_SNAPSHOT = ("state", "assignee_id", "ack_due_at", "resolve_due_at", "next_alert_at")


def _snapshot(ticket: Ticket) -> tuple[object, ...]:
    return tuple(getattr(ticket, name) for name in _SNAPSHOT)


def _load_people(session: Session, page: list[Ticket]) -> list[Person]:
    """The page's assignees and their supervisors, read in two statements: held by the sweep,
    they stay in the session's identity map, so each later look-up costs no statement."""
    loaded: list[Person] = []
    ids = {t.assignee_id for t in page if t.assignee_id is not None}
    for _ in range(2):
        if not ids:
            break
        people = list(session.exec(select(Person).where(col(Person.id).in_(ids))))
        loaded += people
        ids = {p.supervisor_id for p in people if p.supervisor_id is not None} - ids
    return loaded


def _sent_steps(session: Session, page: list[Ticket]) -> dict[tuple[int, str, datetime], set[str]]:
    """(ticket, deadline, due) → the steps already sent for that deadline, for one page."""
    if not page:
        return {}
    ids = [t.id for t in page]
    alerts = session.exec(select(TicketAlert).where(col(TicketAlert.ticket_id).in_(ids)))
    sent: dict[tuple[int, str, datetime], set[str]] = {}
    for alert in alerts:
        step, _, deadline = alert.kind.partition("_")
        sent.setdefault((alert.ticket_id, deadline, alert.deadline_at), set()).add(step)
    return sent


class SweepPlan:
    """One sweep: its clock, config, wording, tallies, look-ups and the rows it will write."""

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
        self.ladder = Ladder(session)
        self.people: list[Person] = []
        self._places: dict[int, str] = {}
        self._alerts: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._messages: dict[str, dict[str, Any]] = {}  # by dedup key
        self._looks: list[dict[str, Any]] = []
        # What each ticket looked like when planned, and the steps planned for it.
        self._seen: dict[int, tuple[object, ...]] = {}
        self._steps: dict[int, list[str]] = {}

    def preload(self, page: list[Ticket]) -> None:
        """Read the people, roles and place names the page's messages need, a statement each."""
        self.people = _load_people(self.session, page)
        self.ladder.preload_roles([p.id for p in self.people if p.id is not None])
        self.ladder.preload_liaisons({t.village_id for t in page if t.village_id is not None})
        ids = {t.village_id or t.place_id for t in page} - {None} - self._places.keys()
        if ids:
            stmt = select(Place.id, Place.name).where(col(Place.id).in_(ids))
            for place_id, name in self.session.exec(stmt):
                assert place_id is not None
                self._places[place_id] = name

    def due_steps(self, ticket: Ticket, deadline: str, due: datetime, sent: set[str]) -> list[str]:
        """The steps of one ticket's deadline that are due at this sweep's moment, not sent yet."""
        if self.now < due and "remind" in sent:
            return []
        steps: list[str] = []
        if self.now >= due:
            # Past the deadline a reminder is pointless: only escalations are (still) sent.
            steps.append("escalate")
            if self.now >= due_after(due, self.sla.leader_after, self.calendar):
                steps.append("leader")
        else:
            limits = self.sla.limits_for(ticket.urgent, ticket.category)
            limit_kind = limits.ack if deadline == "ack" else limits.resolve
            start = ticket.assigned_at or ticket.created_at
            threshold = self.sla.reminder_threshold
            if self.now >= reminder_at(start, due, limit_kind, threshold, self.calendar):
                steps.append("remind")
        return [step for step in steps if step not in sent]

    def send(self, ticket: Ticket, deadline: str, due: datetime, step: str) -> None:
        """Queue one step: its alert row, its messages and its line in the timeline."""
        assert ticket.id is not None and ticket.assignee_id is not None
        kind = f"{step}_{deadline}"
        self._steps.setdefault(ticket.id, []).append(step)
        self._alerts.append(
            {"ticket_id": ticket.id, "kind": kind, "deadline_at": due, "sent_at": self.now}
        )
        assignee = self.session.get(Person, ticket.assignee_id)
        if assignee is None:
            return
        supervisors = self.ladder.supervisors(ticket, assignee)
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
            told = self.ladder.leaders(ticket, assignee, supervisors)
            for person in told:
                self._tell(person, ticket, kind, due, self.texts.leader, fields)
            note, event_kind = self.texts.note_leader, "escalated"
            self.result.leader += 1
        if not told:
            log.warning("ticket %s: nobody on the roster to receive %s", ticket.id, kind)
        names = model_texts.LIST_JOIN.join(p.name for p in told) or self.texts.nobody
        self._events.append(
            {
                "ticket_id": ticket.id,
                "at": self.now,
                "actor_id": None,
                "kind": event_kind,
                "from_state": None,
                "to_state": None,
                "note": note.format(**{**fields, "names": names}),
            }
        )

    def look_again(self, ticket: Ticket, at: datetime | None) -> None:
        """Queue the ticket's next look."""
        assert ticket.id is not None
        self._seen[ticket.id] = _snapshot(ticket)
        self._looks.append({"id": ticket.id, "next_alert_at": at})

    def write(self, session: Session) -> SweepResult:
        """Write the plan in `session`'s transaction: a few multi-row statements.

        A ticket that changed since it was planned (签收, 办结, another sweep) is left out: its
        next_alert_at is still due, so the next call looks at it afresh. A message whose dedup
        key is already in the outbox is not written twice.
        """
        if self._seen:
            columns = (col(Ticket.id), *(col(getattr(Ticket, name)) for name in _SNAPSHOT))
            stmt = select(*columns).where(col(Ticket.id).in_(self._seen)).with_for_update()
            now = {row[0]: tuple(row[1:]) for row in session.exec(stmt)}
            changed = {i for i, seen in self._seen.items() if now.get(i) != seen}
            if changed:
                self._drop(changed)
        if self._messages:
            stmt = select(OutboxMessage.dedup_key).where(
                col(OutboxMessage.dedup_key).in_(self._messages)
            )
            for key in session.exec(stmt):
                del self._messages[key or ""]
        for table, rows in (
            (TicketAlert, self._alerts),
            (TicketEvent, self._events),
            (OutboxMessage, list(self._messages.values())),
        ):
            if rows:
                session.execute(insert(table), rows)
        if self._looks:
            session.execute(update(Ticket), self._looks)
        self._alerts, self._events, self._messages, self._looks = [], [], {}, []
        return self.result

    def _drop(self, ids: set[int]) -> None:
        for ticket_id in ids:
            for step in self._steps.pop(ticket_id, []):
                if step == "remind":
                    self.result.reminded -= 1
                elif step == "escalate":
                    self.result.escalated -= 1
                else:
                    self.result.leader -= 1
        self.result.more = True
        self._alerts = [row for row in self._alerts if row["ticket_id"] not in ids]
        self._events = [row for row in self._events if row["ticket_id"] not in ids]
        self._messages = {k: m for k, m in self._messages.items() if m["ticket_id"] not in ids}
        self._looks = [row for row in self._looks if row["id"] not in ids]

    def _tell(
        self,
        person: Person,
        ticket: Ticket,
        kind: str,
        due: datetime,
        template: str,
        fields: dict[str, object],
    ) -> None:
        # One message per person, ticket, step and deadline even if a sweep is repeated.
        key = f"sla:{ticket.id}:{kind}:{due.isoformat()}:{person.id}"
        self._messages.setdefault(
            key,
            outbox_row(
                person_id=person.id,
                kind=f"sla_{kind}",
                text=template.format(**fields),
                now=self.now,
                ticket_id=ticket.id,
                dedup_key=key,
                data={"ticket": ticket.id, "step": kind, "due": due.isoformat()},
            ),
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


class Ladder:
    """Who hears of a ticket's passed deadline, looked up once per person, village, unit and
    role for a whole sweep: a catch-up after downtime escalates many tickets of the same few
    people, and a county's tickets sit in thousands of groups under the same dispatchers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._roles: dict[int, set[Role]] = {}
        self._liaisons: dict[int, list[int]] = {}
        self._heads: dict[tuple[int, frozenset[int]], Person | None] = {}
        self._by_role: dict[Role, dict[int, list[Person]]] = {}

    def supervisors(self, ticket: Ticket, assignee: Person) -> list[Person]:
        """The assignee's supervisor on the roster; else, by role, the village's 包村干部 (for a
        village cadre) or the unit head (for a unit member); else the dispatchers above the
        ticket's place."""
        assert assignee.id is not None
        exclude = {assignee.id}
        explicit = active_person(self.session, assignee.supervisor_id, exclude)
        if explicit is not None:
            return [explicit]
        roles = self.roles(assignee.id)
        if Role.village_cadre in roles and ticket.village_id is not None:
            for person_id in self._liaisons_of(ticket.village_id):
                liaison = active_person(self.session, person_id, exclude)
                if liaison is not None:
                    return [liaison]
        if Role.unit_member in roles and assignee.unit_id is not None:
            key = (assignee.unit_id, frozenset(exclude))
            if key not in self._heads:
                self._heads[key] = unit_head_of(self.session, assignee.unit_id, exclude)
            head = self._heads[key]
            if head is not None:
                return [head]
        return self.nearest(Role.dispatcher, ticket, exclude)

    def leaders(self, ticket: Ticket, assignee: Person, supervisors: list[Person]) -> list[Person]:
        """Who is asked to 督办: the supervisor's own supervisor when that is a leader; else the
        leaders at the nearest place above the ticket; never someone already told."""
        exclude = {p.id for p in [assignee, *supervisors] if p.id is not None}
        for supervisor in supervisors:
            above = active_person(self.session, supervisor.supervisor_id, exclude)
            if above is None or above.id is None:
                continue
            if Role.leader in self.roles(above.id):
                return [above]
        return self.nearest(Role.leader, ticket, exclude)

    def preload_roles(self, person_ids: list[int]) -> None:
        """The roles of these people, in one statement."""
        wanted = set(person_ids) - self._roles.keys()
        if not wanted:
            return
        stmt = select(PersonRole.person_id, PersonRole.role).where(
            col(PersonRole.person_id).in_(wanted)
        )
        found: dict[int, set[Role]] = {person_id: set() for person_id in wanted}
        for person_id, role in self.session.exec(stmt):
            found[person_id].add(Role(role))
        self._roles.update(found)

    def roles(self, person_id: int) -> set[Role]:
        """Every role a person holds."""
        if person_id not in self._roles:
            self._roles[person_id] = roles_of(self.session, person_id)
        return self._roles[person_id]

    def nearest(self, role: Role, ticket: Ticket, exclude: set[int]) -> list[Person]:
        """Everyone active holding `role` at the nearest place above the ticket that has any."""
        if role not in self._by_role:
            holders: dict[int, list[Person]] = {}
            stmt = (
                select(Person)
                .join(PersonRole, col(PersonRole.person_id) == Person.id)
                .where(PersonRole.role == role.value, Person.active == True)  # noqa: E712
                .order_by(col(Person.id))
            )
            for person in self.session.exec(stmt):
                if person.place_id is not None:
                    holders.setdefault(person.place_id, []).append(person)
            self._by_role[role] = holders
        for place_id in _place_chain(ticket):
            here = [p for p in self._by_role[role].get(place_id, []) if p.id not in exclude]
            if here:
                return here
        return []

    def preload_liaisons(self, village_ids: set[int]) -> None:
        """The 包村干部 of these villages, in one statement."""
        wanted = village_ids - self._liaisons.keys()
        if not wanted:
            return
        stmt = (
            select(Coverage.place_id, Coverage.person_id)
            .where(col(Coverage.place_id).in_(wanted), Coverage.role == Role.liaison.value)
            .order_by(col(Coverage.person_id))
        )
        found: dict[int, list[int]] = {village_id: [] for village_id in wanted}
        for village_id, person_id in self.session.exec(stmt):
            found[village_id].append(person_id)
        self._liaisons.update(found)

    def _liaisons_of(self, village_id: int) -> list[int]:
        if village_id not in self._liaisons:
            stmt = (
                select(Coverage.person_id)
                .where(Coverage.place_id == village_id, Coverage.role == Role.liaison.value)
                .order_by(col(Coverage.person_id))
            )
            self._liaisons[village_id] = list(self.session.exec(stmt))
        return self._liaisons[village_id]
