"""What can be done to a ticket, for every door (chat commands now, web buttons next).

Each action checks, in this order and in this one place, who may act, on which ticket, with what
arguments and in which state; then it changes the ticket, records the event (models/workflow.py)
and queues the notifications through `desk.notifier`. It returns a `Done` with what the caller
needs to word its answer, or raises a `Refusal` whose `reason` says why nothing changed. Nothing
here words anything for people: the caller does (handlers/texts.py for chat). Nothing commits:
the caller's unit of work does.

    desk  = Desk(session, now, office, notifier)     # office: SLA, calendar, taxonomy, routing
    actor = Actor.of(session, person, via="web")      # or via="chat"

    accept(desk, actor, ticket_id) -> Done
    progress(desk, actor, ticket_id, note: str) -> Done
    resolve(desk, actor, ticket_id, result: str, photos: Sequence[Attachment] = ()) -> Done
    return_(desk, actor, ticket_id, reason: str) -> Done
    transfer(desk, actor, ticket_id, to: PersonRef, note: str = "") -> Done      # Done.person
    extend(desk, actor, ticket_id, days: int | None, reason: str) -> Done        # Done.days
    send_to(desk, actor, ticket_id, to: PersonRef) -> Done                       # Done.person
    approve(desk, actor, ticket_id) -> Done     # Done.request, .person/.route or .due
    reject(desk, actor, ticket_id, reason: str) -> Done                          # Done.request
    merge(desk, actor, ticket_id, into: int | None) -> Done                      # Done.into
    invalidate(desk, actor, ticket_id, reason: str) -> Done
    rate(desk, actor, ticket_id: int | None, rating: Rating, reason: str = "") -> Done
    correct(desk, actor, ticket_id: int | None, change: Correction) -> Done      # Done.note
    withdraw(desk, actor, ticket_id, note: str = "") -> Done

`PersonRef` is a person's id (a web form's choice) or the name or phone someone typed (chat);
`ticket_id=None` for `rate` and `correct` means "the one waiting" (the reporter's latest).
Photos given to `resolve` are attached to the ticket before it is resolved (the web sends the
photo of the fix; `Attachment.kind` "image", with a media id or a URL).

Refusals, by action (besides `not_allowed` for a sender without the roles an action needs, and
`not_found` for a ticket the actor may not act on, which every action with a ticket id raises):
    progress, resolve, return_, invalidate: needs_text, then wrong_state
    reject: needs_text, then no_pending_request
    transfer, send_to: wrong_state, unknown_person, ambiguous_person (detail: name, phones)
    extend: needs_text (days or reason missing), too_long (detail: max), wrong_state,
            pending_request
    approve: no_pending_request
    merge: not_found (ticket=into), bad_target (the target is void or merged), wrong_state
    rate: nothing_to_rate, which_ticket (ticket=the first waiting), wrong_state, needs_text
    correct: wrong_state, nothing_to_correct, needs_text (nothing to change), unknown_category
             (detail: word), unknown_village (detail: word)
    withdraw: wrong_state
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import insert
from sqlmodel import Session, col, select

from config.calendar import deadline_clock
from config.office import OfficeConfig
from config.taxonomy import Taxonomy
from models import texts
from models.deadlines import extend_resolve_due, set_deadlines
from models.directory import directory_of, table_of
from models.person import HANDLER_ROLES, Person, Role, find_handlers, roles_of
from models.place import Place
from models.routing import RouteChoice, choose_assignee, dispatchers_for
from models.ticket import Attachment, Rating, Ticket, TicketEvent, TicketRequest, TicketState
from models.tickets import (
    add_attachment,
    awaiting_rating,
    cancel_pending_requests,
    followers,
    link_attachment,
    locate,
    may_dispatch,
    may_handle,
)
from models.workflow import approve_return, can_transition, change_state, move, record_event

S = TicketState
DISPATCH_ROLES = frozenset({Role.dispatcher, Role.leader, Role.admin})
# States in which the assignee works on a ticket: 签收, 进度, 办结, 退回, 转办, 延期.
WORKING = frozenset({S.assigned, S.accepted, S.in_progress})
# A reporter may still correct a ticket nobody has acknowledged, and withdraw one not resolved.
CORRECTABLE = frozenset({S.submitted, S.assigned})
WITHDRAWABLE = frozenset({S.draft, S.submitted, S.assigned, S.accepted, S.in_progress, S.returned})
# A ticket that is itself merged away, or void, cannot take others in.
MERGE_REFUSED = frozenset({S.duplicate, S.invalid})
# How many people a refusal for an ambiguous name lists.
AMBIGUOUS_SHOWN = 5

PersonRef = int | str


class Reason(StrEnum):
    """Why an action changed nothing."""

    not_allowed = "not_allowed"  # the actor holds none of the roles the action needs
    not_found = "not_found"  # no such ticket, or not one this actor may act on
    wrong_state = "wrong_state"  # the ticket's state does not allow the step (detail: state)
    needs_text = "needs_text"  # a required note, result, reason or days is missing
    too_long = "too_long"  # an extension over the SLA's limit (detail: max)
    pending_request = "pending_request"  # an extension already waits for a decision
    no_pending_request = "no_pending_request"  # nothing to approve or reject
    unknown_person = "unknown_person"  # no handler by that id, name or phone (detail: name)
    ambiguous_person = "ambiguous_person"  # several handlers by that name (detail: name, phones)
    bad_target = "bad_target"  # a merge target that is void or merged itself (detail: state)
    nothing_to_rate = "nothing_to_rate"  # no resolved ticket waits for this reporter's rating
    which_ticket = "which_ticket"  # several wait: the caller must name one (ticket: the first)
    nothing_to_correct = "nothing_to_correct"  # no ticket of this reporter can still be corrected
    unknown_category = "unknown_category"  # detail: word
    unknown_village = "unknown_village"  # detail: word


class Refusal(Exception):
    """An action refused: `reason`, the ticket it concerns (if any) and details for wording."""

    def __init__(self, reason: Reason, ticket: int | None = None, **detail: Any) -> None:
        super().__init__(reason.value, ticket, detail)
        self.reason = reason
        self.ticket = ticket
        self.detail = detail


class TakenOff(StrEnum):
    """Why an assignee no longer has a ticket."""

    reassigned = "reassigned"  # a dispatcher gave it to someone else
    merged = "merged"
    invalid = "invalid"
    rerouted = "rerouted"  # the reporter's correction sent it elsewhere


class Notifier(Protocol):
    """Who is told what; the implementation words and queues it (chat: handlers/notify.py)."""

    def assigned(self, ticket: Ticket, assignee_id: int | None) -> None: ...
    def accepted(self, ticket: Ticket, recipients: Sequence[int]) -> None: ...
    def progressed(self, ticket: Ticket, recipients: Sequence[int], note: str) -> None: ...
    def resolved(
        self, ticket: Ticket, reporter_id: int | None, others: Sequence[int], result: str
    ) -> None: ...
    def return_requested(
        self, ticket: Ticket, dispatcher_ids: Sequence[int], reason: str
    ) -> None: ...
    def returned(self, ticket: Ticket, recipients: Sequence[int]) -> None: ...
    def reassigned(self, ticket: Ticket, recipients: Sequence[int]) -> None: ...
    def extension_requested(
        self, ticket: Ticket, dispatcher_ids: Sequence[int], days: int, reason: str
    ) -> None: ...
    def extension_approved(
        self, ticket: Ticket, requester_id: int | None, due: datetime
    ) -> None: ...
    def request_rejected(
        self, ticket: Ticket, requester_id: int | None, kind: str, reason: str
    ) -> None: ...
    def taken_off(
        self,
        ticket: Ticket,
        person_id: int | None,
        why: TakenOff,
        *,
        into: int | None = None,
        reason: str = "",
    ) -> None: ...
    def merged(self, ticket: Ticket, reporter_id: int | None, into: Ticket) -> None: ...
    def invalidated(self, ticket: Ticket, reporter_id: int | None, reason: str) -> None: ...
    def reopened(self, ticket: Ticket, assignee_id: int | None, reason: str) -> None: ...
    def withdrawn(self, ticket: Ticket, assignee_id: int | None) -> None: ...


@dataclass(frozen=True)
class Desk:
    """Where an action happens: the transaction, the time, the office's files and the notifier."""

    session: Session
    now: datetime
    office: OfficeConfig
    notifier: Notifier


@dataclass(frozen=True)
class Actor:
    """Who acts, with the roles they hold, and through which door ("chat" or "web")."""

    person: Person
    roles: frozenset[Role]
    via: str = "chat"

    @classmethod
    def of(cls, session: Session, person: Person, via: str = "chat") -> Actor:
        """The person with their roles as the roster has them now."""
        assert person.id is not None
        return cls(person, frozenset(roles_of(session, person.id)), via)

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    @property
    def handles(self) -> bool:
        """Whether the actor may take the assignee's steps (签收, 办结…)."""
        return bool(self.roles & HANDLER_ROLES)

    @property
    def dispatches(self) -> bool:
        """Whether the actor may take the dispatcher's steps (派, 同意, 合并…)."""
        return bool(self.roles & DISPATCH_ROLES)


@dataclass(frozen=True)
class Correction:
    """What a reporter corrects: a category (code, name or keyword), a place, or the urgency.

    `place` is a village name ("" keeps the village and changes only `group`); `typed` is what the
    reporter wrote, for the refusal when even the current village is unknown.
    """

    category: str | None = None
    place: str | None = None
    group: int | None = None
    urgent: bool | None = None
    typed: str = ""


@dataclass(frozen=True)
class Done:
    """What an action did, for the caller to word."""

    ticket: Ticket
    person: Person | None = None  # the new assignee (transfer, send_to, an approved return)
    route: str = ""  # how the new assignee was chosen (an approved return)
    request: str = ""  # the request decided: "return" or "extension" (approve, reject)
    due: datetime | None = None  # the new resolve deadline (an approved extension)
    days: int | None = None  # the working days asked (extend)
    into: Ticket | None = None  # the ticket merged into (merge)
    note: str = ""  # the timeline note recorded (correct: what changed)
    reopened: bool = False  # rate: 不满意 sent the ticket back to its assignee


# ------------------------------------------------------------------------------ shared steps


def route(desk: Desk, ticket: Ticket, exclude: Collection[int] = ()) -> RouteChoice | None:
    """Where the office's routing rules send this ticket."""
    return choose_assignee(desk.session, ticket, desk.office.taxonomy, desk.office.routing, exclude)


def assign(
    desk: Desk,
    ticket: Ticket,
    choice: RouteChoice,
    *,
    actor_id: int | None,
    kind: str = "assigned",
    note: str = "",
) -> None:
    """Give the ticket to `choice.person`, set its deadlines and tell the new assignee."""
    previous = _hand_over(desk, ticket, choice)
    _record_assignment(desk, ticket, choice, previous, kind=kind, actor_id=actor_id, note=note)


def open_ticket(
    desk: Desk, ticket: Ticket, *, reporter_id: int | None, attachments: Sequence[Attachment] = ()
) -> RouteChoice | None:
    """A new ticket (not yet added), routed and assigned when anyone can take it, inserted once
    with its final fields; its timeline (created, each attachment, assigned) in one statement."""
    assert ticket.id is None
    created = ticket.state
    choice = route(desk, ticket)
    previous = _hand_over(desk, ticket, choice) if choice is not None else created
    if choice is None:
        desk.session.add(ticket)
        desk.session.flush()
    events = [_event_row(ticket, desk.now, "created", reporter_id, to_state=created)]
    for attachment in attachments:
        link_attachment(desk.session, ticket, attachment, desk.now)
        events.append(_event_row(ticket, desk.now, "attachment", reporter_id, attachment.kind))
    if choice is not None:
        note = texts.ASSIGNED_NOTE.format(name=choice.person.name, route=choice.route)
        events.append(
            _event_row(ticket, desk.now, "assigned", None, note, previous, S.assigned.value)
        )
    desk.session.execute(insert(table_of(TicketEvent)), events)  # one executemany: no ids back
    if choice is not None:
        desk.notifier.assigned(ticket, choice.person.id)
    return choice


def _event_row(
    ticket: Ticket,
    now: datetime,
    kind: str,
    actor_id: int | None,
    note: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
) -> dict[str, Any]:
    """The columns of one timeline line (models/workflow.py record_event's, for many at once)."""
    return {
        "ticket_id": ticket.id,
        "at": now,
        "actor_id": actor_id,
        "kind": kind,
        "from_state": from_state,
        "to_state": to_state,
        "note": note,
    }


def _hand_over(desk: Desk, ticket: Ticket, choice: RouteChoice) -> str:
    """The ticket's assignee, route, state and deadlines (one write); the state it left."""
    ticket.assignee_id = choice.person.id
    ticket.route = choice.route[:255]
    previous = move(ticket, S.assigned, desk.now)
    set_deadlines(
        desk.session, ticket, desk.now, sla=desk.office.sla, calendar=desk.office.calendar
    )
    return previous


def _record_assignment(
    desk: Desk,
    ticket: Ticket,
    choice: RouteChoice,
    previous: str,
    *,
    kind: str,
    actor_id: int | None,
    note: str = "",
) -> None:
    label = texts.ASSIGNED_NOTE.format(name=choice.person.name, route=choice.route)
    record_event(
        desk.session,
        ticket,
        kind,
        now=desk.now,
        actor_id=actor_id,
        note=f"{note} → {label}" if note else label,
        from_state=previous,
        to_state=S.assigned.value,
    )
    desk.notifier.assigned(ticket, choice.person.id)


def _tell_reassigned(desk: Desk, ticket: Ticket) -> None:
    desk.notifier.reassigned(ticket, followers(desk.session, ticket))


def _step(
    desk: Desk, actor: Actor, ticket: Ticket, target: TicketState, kind: str, note: str = ""
) -> None:
    """The actor moves the ticket to `target`; the timeline records it as `kind`."""
    change_state(
        desk.session, ticket, target, kind=kind, now=desk.now, actor_id=actor.id, note=note
    )


def _note(desk: Desk, actor: Actor, ticket: Ticket, kind: str, note: str) -> None:
    """A timeline line by the actor that changes no state."""
    record_event(desk.session, ticket, kind, now=desk.now, actor_id=actor.id, note=note)


def _needs(actor: Actor, roles: frozenset[Role]) -> None:
    if not actor.roles & roles:
        raise Refusal(Reason.not_allowed, roles=roles)


def _ticket_for(
    desk: Desk,
    actor: Actor,
    ticket_id: int,
    roles: frozenset[Role],
    may: Callable[[Session, Person, Ticket], bool],
) -> Ticket:
    _needs(actor, roles)
    ticket = desk.session.get(Ticket, ticket_id)
    if ticket is None or not may(desk.session, actor.person, ticket):
        raise Refusal(Reason.not_found, ticket=ticket_id)
    return ticket


def _handled(desk: Desk, actor: Actor, ticket_id: int) -> Ticket:
    """A ticket the actor handles (its assignee, or a dispatcher above it)."""
    return _ticket_for(desk, actor, ticket_id, HANDLER_ROLES, may_handle)


def _dispatched(desk: Desk, actor: Actor, ticket_id: int) -> Ticket:
    """A ticket the actor dispatches (a dispatcher, leader or admin above it)."""
    return _ticket_for(desk, actor, ticket_id, DISPATCH_ROLES, may_dispatch)


def _own(desk: Desk, actor: Actor, ticket_id: int) -> Ticket:
    """A ticket the actor reported."""
    ticket = desk.session.get(Ticket, ticket_id)
    if ticket is None or ticket.reporter_id != actor.id:
        raise Refusal(Reason.not_found, ticket=ticket_id)
    return ticket


def _text(value: str, ticket: Ticket) -> str:
    if not value.strip():
        raise Refusal(Reason.needs_text, ticket=ticket.id)
    return value


def _in_state(ticket: Ticket, states: Collection[TicketState]) -> None:
    if TicketState(ticket.state) not in states:
        raise Refusal(Reason.wrong_state, ticket=ticket.id, state=ticket.state)


def _may_become(ticket: Ticket, target: TicketState) -> None:
    if not can_transition(ticket.state, target):
        raise Refusal(Reason.wrong_state, ticket=ticket.id, state=ticket.state)


def pick_person(session: Session, to: PersonRef) -> Person:
    """A handler by id, or by the name or phone someone typed."""
    if isinstance(to, int):
        person = session.get(Person, to)
        if person is None or not person.active or not roles_of(session, to) & HANDLER_ROLES:
            raise Refusal(Reason.unknown_person, name=str(to))
        return person
    word = to.strip()
    people = find_handlers(session, word) if word else []
    if not people:
        raise Refusal(Reason.unknown_person, name=word)
    if len(people) > 1:
        phones = tuple(p.phone for p in people[:AMBIGUOUS_SHOWN])
        raise Refusal(Reason.ambiguous_person, name=word, phones=phones)
    return people[0]


def pending_request(
    session: Session, ticket: Ticket, kind: str | None = None
) -> TicketRequest | None:
    """The ticket's latest undecided request (of `kind`, if given)."""
    stmt = select(TicketRequest).where(
        TicketRequest.ticket_id == ticket.id, TicketRequest.status == "pending"
    )
    if kind is not None:
        stmt = stmt.where(TicketRequest.kind == kind)
    return session.exec(stmt.order_by(col(TicketRequest.id).desc())).first()


def _ask(
    desk: Desk, actor: Actor, ticket: Ticket, kind: str, reason: str, days: int | None = None
) -> None:
    """A request for the dispatcher to decide: a 退回 or a 延期 of `days` working days."""
    assert ticket.id is not None
    request = TicketRequest(
        ticket_id=ticket.id,
        kind=kind,
        requested_by_id=actor.id,
        days=days,
        reason=reason,
        created_at=desk.now,
    )
    desk.session.add(request)


def _close_request(
    desk: Desk, ticket: Ticket, request: TicketRequest, actor: Actor, status: str, note: str = ""
) -> None:
    request.status, request.decided_by_id, request.decided_at = status, actor.id, desk.now
    request.decision_note = note
    desk.session.add(request)
    if request.kind == "return" and status == "approved":
        approve_return(ticket)


def _dispatcher_ids(desk: Desk, ticket: Ticket) -> list[int]:
    """The one dispatcher who decides on this ticket's requests."""
    return [p.id for p in dispatchers_for(desk.session, ticket)[:1] if p.id is not None]


# ------------------------------------------------------------------------- the assignee's steps


def accept(desk: Desk, actor: Actor, ticket_id: int) -> Done:
    """签收: the assignee acknowledges; the reporters hear who handles their problem."""
    ticket = _handled(desk, actor, ticket_id)
    _in_state(ticket, {S.assigned})
    _step(desk, actor, ticket, S.accepted, "accepted")
    desk.notifier.accepted(ticket, followers(desk.session, ticket))
    return Done(ticket)


def progress(desk: Desk, actor: Actor, ticket_id: int, note: str) -> Done:
    """进度: a note of work done (acknowledging first if need be), passed on to the reporters."""
    ticket = _handled(desk, actor, ticket_id)
    _text(note, ticket)
    _in_state(ticket, WORKING)
    if ticket.state == S.assigned.value:
        _step(desk, actor, ticket, S.accepted, "accepted")
    _step(desk, actor, ticket, S.in_progress, "progress", note)
    desk.notifier.progressed(ticket, followers(desk.session, ticket), note)
    return Done(ticket)


def resolve(
    desk: Desk, actor: Actor, ticket_id: int, result: str, photos: Sequence[Attachment] = ()
) -> Done:
    """办结: the result (and photos of the fix); the reporter is asked to rate it."""
    ticket = _handled(desk, actor, ticket_id)
    _text(result, ticket)
    _in_state(ticket, WORKING)
    for photo in photos:
        add_attachment(desk.session, ticket, photo, desk.now, actor_id=actor.id)
    _step(desk, actor, ticket, S.resolved, "resolved", result)
    ticket.result = result
    ticket.rating, ticket.rated_at = None, None
    ticket.rating_asked_at, ticket.rating_reminded_at = desk.now, None
    cancel_pending_requests(desk.session, ticket, desk.now, result)
    # Only the reporter rates; reporters of merged duplicates hear the result.
    desk.notifier.resolved(ticket, ticket.reporter_id, followers(desk.session, ticket)[1:], result)
    return Done(ticket)


def return_(desk: Desk, actor: Actor, ticket_id: int, reason: str) -> Done:
    """退回: a misrouted ticket goes back to the dispatcher, who decides."""
    ticket = _handled(desk, actor, ticket_id)
    _text(reason, ticket)
    _in_state(ticket, WORKING)
    _step(desk, actor, ticket, S.returned, "returned", reason)
    _ask(desk, actor, ticket, "return", reason)
    desk.notifier.return_requested(ticket, _dispatcher_ids(desk, ticket), reason)
    desk.notifier.returned(ticket, followers(desk.session, ticket))
    return Done(ticket)


def transfer(desk: Desk, actor: Actor, ticket_id: int, to: PersonRef, note: str = "") -> Done:
    """转办: to a colleague; both the colleague and the reporters are told."""
    ticket = _handled(desk, actor, ticket_id)
    _in_state(ticket, WORKING)
    target = pick_person(desk.session, to)
    cancel_pending_requests(desk.session, ticket, desk.now, target.name)
    assign(
        desk,
        ticket,
        RouteChoice(target, f"transfer:{actor.person.name}"),
        actor_id=actor.id,
        kind="transferred",
        note=note.strip(),
    )
    _tell_reassigned(desk, ticket)
    return Done(ticket, person=target)


def extend(desk: Desk, actor: Actor, ticket_id: int, days: int | None, reason: str) -> Done:
    """延期: ask the dispatcher for more working days, up to the SLA's limit."""
    ticket = _handled(desk, actor, ticket_id)
    if days is None or days <= 0 or not reason.strip():
        raise Refusal(Reason.needs_text, ticket=ticket.id)
    longest = desk.office.sla.extension_max_working_days
    if days > longest:
        raise Refusal(Reason.too_long, ticket=ticket.id, max=longest)
    _in_state(ticket, WORKING)
    if pending_request(desk.session, ticket, "extension") is not None:
        raise Refusal(Reason.pending_request, ticket=ticket.id)
    _ask(desk, actor, ticket, "extension", reason, days)
    _note(
        desk,
        actor,
        ticket,
        "extension_requested",
        texts.EXTENSION_REQUESTED_NOTE.format(days=days, reason=reason),
    )
    desk.notifier.extension_requested(ticket, _dispatcher_ids(desk, ticket), days, reason)
    return Done(ticket, days=days)


# ----------------------------------------------------------------------- the dispatcher's steps


def send_to(desk: Desk, actor: Actor, ticket_id: int, to: PersonRef) -> Done:
    """派: assign (or reassign) a ticket by hand; a pending return is thereby approved."""
    ticket = _dispatched(desk, actor, ticket_id)
    _may_become(ticket, S.assigned)
    target = pick_person(desk.session, to)
    previous = ticket.assignee_id
    pending = pending_request(desk.session, ticket)
    if pending is not None and pending.kind == "return":
        _close_request(desk, ticket, pending, actor, "approved", target.name)
    cancel_pending_requests(desk.session, ticket, desk.now, target.name)
    assign(desk, ticket, RouteChoice(target, f"dispatcher:{actor.person.name}"), actor_id=actor.id)
    if previous not in (None, target.id):
        desk.notifier.taken_off(ticket, previous, TakenOff.reassigned)
    if previous is not None:
        _tell_reassigned(desk, ticket)
    return Done(ticket, person=target)


def approve(desk: Desk, actor: Actor, ticket_id: int) -> Done:
    """同意: the pending return is re-routed, or the pending extension moves the deadline."""
    ticket = _dispatched(desk, actor, ticket_id)
    request = pending_request(desk.session, ticket)
    if request is None:
        raise Refusal(Reason.no_pending_request, ticket=ticket.id)
    _close_request(desk, ticket, request, actor, "approved")
    if request.kind == "return":
        excluded = {request.requested_by_id} if request.requested_by_id else set()
        choice = route(desk, ticket, exclude=excluded)
        if choice is None:
            choice = RouteChoice(actor.person, f"dispatcher:{actor.person.name}")
        assign(
            desk,
            ticket,
            choice,
            actor_id=actor.id,
            kind="rerouted",
            note=texts.RETURN_APPROVED_NOTE,
        )
        _tell_reassigned(desk, ticket)
        return Done(ticket, person=choice.person, route=choice.route, request=request.kind)
    assert request.days, "extension requests always carry their days (extend checks)"
    base = ticket.resolve_due_at or desk.now
    due = extend_resolve_due(base, request.days, sla=desk.office.sla, calendar=desk.office.calendar)
    ticket.resolve_due_at, ticket.updated_at = due, desk.now
    desk.session.add(ticket)
    month, day, hour, minute = deadline_clock(due)
    note = texts.EXTENSION_APPROVED_NOTE.format(
        days=request.days, month=month, day=day, hour=hour, minute=minute
    )
    _note(desk, actor, ticket, "extension_approved", note)
    desk.notifier.extension_approved(ticket, request.requested_by_id, due)
    return Done(ticket, request=request.kind, due=due)


def reject(desk: Desk, actor: Actor, ticket_id: int, reason: str) -> Done:
    """驳回: the pending return goes back to its assignee, or the extension is refused."""
    ticket = _dispatched(desk, actor, ticket_id)
    _text(reason, ticket)
    request = pending_request(desk.session, ticket)
    if request is None:
        raise Refusal(Reason.no_pending_request, ticket=ticket.id)
    _close_request(desk, ticket, request, actor, "rejected", reason)
    if request.kind == "return":
        _step(desk, actor, ticket, S.assigned, "return_rejected", reason)
    else:
        _note(desk, actor, ticket, "extension_rejected", reason)
    desk.notifier.request_rejected(ticket, request.requested_by_id, request.kind, reason)
    return Done(ticket, request=request.kind)


def merge(desk: Desk, actor: Actor, ticket_id: int, into: int | None) -> Done:
    """合并: the ticket duplicates `into`; its reporters follow `into` from now on."""
    ticket = _dispatched(desk, actor, ticket_id)
    target = desk.session.get(Ticket, into) if into else None
    if (
        target is None
        or target.id == ticket.id
        or not may_dispatch(desk.session, actor.person, target)
    ):
        raise Refusal(Reason.not_found, ticket=into)
    if TicketState(target.state) in MERGE_REFUSED:
        raise Refusal(Reason.bad_target, ticket=target.id, state=target.state)
    _may_become(ticket, S.duplicate)
    ticket.duplicate_of_id = target.id
    # Tickets merged into this one earlier now follow the target too, so no reporter is lost.
    for earlier in desk.session.exec(select(Ticket).where(Ticket.duplicate_of_id == ticket.id)):
        earlier.duplicate_of_id = target.id
        desk.session.add(earlier)
    merged_note = texts.MERGED_INTO_NOTE.format(target=target.id)
    cancel_pending_requests(desk.session, ticket, desk.now, merged_note)
    _step(desk, actor, ticket, S.duplicate, "merged", merged_note)
    _note(
        desk,
        actor,
        target,
        "merged",
        texts.MERGED_FROM_NOTE.format(id=ticket.id),
    )
    desk.notifier.merged(ticket, ticket.reporter_id, target)
    if ticket.assignee_id not in (None, target.assignee_id):
        desk.notifier.taken_off(ticket, ticket.assignee_id, TakenOff.merged, into=target.id)
    return Done(ticket, into=target)


def invalidate(desk: Desk, actor: Actor, ticket_id: int, reason: str) -> Done:
    """无效: not a real problem, or not the office's to handle."""
    ticket = _dispatched(desk, actor, ticket_id)
    _text(reason, ticket)
    _may_become(ticket, S.invalid)
    cancel_pending_requests(desk.session, ticket, desk.now, reason)
    _step(desk, actor, ticket, S.invalid, "invalid", reason)
    desk.notifier.invalidated(ticket, ticket.reporter_id, reason)
    if ticket.assignee_id is not None and ticket.assignee_id != actor.id:
        desk.notifier.taken_off(ticket, ticket.assignee_id, TakenOff.invalid, reason=reason)
    return Done(ticket)


# ------------------------------------------------------------------------- the reporter's steps


def rate(desk: Desk, actor: Actor, ticket_id: int | None, rating: Rating, reason: str = "") -> Done:
    """满意 / 基本满意 close the ticket; 不满意 (with a reason) sends it back to its assignee."""
    if ticket_id is None:
        waiting = awaiting_rating(desk.session, actor.id)
        if not waiting:
            raise Refusal(Reason.nothing_to_rate)
        if len(waiting) > 1:
            raise Refusal(Reason.which_ticket, ticket=waiting[0].id)
        ticket = waiting[0]
    else:
        ticket = _own(desk, actor, ticket_id)
    _in_state(ticket, {S.resolved})
    if rating is Rating.unsatisfied and not reason.strip():
        raise Refusal(Reason.needs_text, ticket=ticket.id)
    ticket.rating, ticket.rated_at = rating.value, desk.now
    if rating is not Rating.unsatisfied:
        _step(
            desk,
            actor,
            ticket,
            S.closed,
            "rated",
            texts.RATING_NOTES.get(rating.value, rating.value),
        )
        return Done(ticket)
    _step(desk, actor, ticket, S.reopened, "reopened", reason)
    change_state(
        desk.session,
        ticket,
        S.assigned,
        kind="reassigned",
        now=desk.now,
        note=texts.REOPENED_NOTE,
    )
    set_deadlines(
        desk.session, ticket, desk.now, sla=desk.office.sla, calendar=desk.office.calendar
    )
    desk.notifier.reopened(ticket, ticket.assignee_id, reason)
    return Done(ticket, reopened=True)


def correct(desk: Desk, actor: Actor, ticket_id: int | None, change: Correction) -> Done:
    """改: the reporter corrects category, place or urgency before anyone acknowledged the ticket.

    A new category or village re-routes a ticket the rules placed (not one placed by hand).
    """
    if ticket_id is not None:
        ticket = _own(desk, actor, ticket_id)
        _in_state(ticket, CORRECTABLE)
    else:
        found = _latest_correctable(desk.session, actor.id)
        if found is None:
            raise Refusal(Reason.nothing_to_correct)
        ticket = found
    reroute = False
    if change.category is not None:
        code = _category_code(desk.office.taxonomy, change.category)
        if code is None:
            raise Refusal(Reason.unknown_category, ticket=ticket.id, word=change.category)
        what = texts.CORRECTED_CATEGORY.format(name=desk.office.taxonomy.get(code).name)
        reroute = code != ticket.category
        ticket.category = code
    elif change.place is not None:
        village = _village(desk.session, ticket, change)
        reroute = village.id != ticket.village_id
        locate(desk.session, ticket, village, change.group)
        group = texts.GROUP_NAME.format(number=change.group) if change.group else ""
        what = texts.CORRECTED_PLACE.format(village=village.name, group=group)
    elif change.urgent is not None:
        ticket.urgent = change.urgent
        what = texts.CORRECTED_URGENT if change.urgent else texts.CORRECTED_NOT_URGENT
    else:
        raise Refusal(Reason.needs_text, ticket=ticket.id)
    ticket.updated_at = desk.now
    desk.session.add(ticket)
    _note(desk, actor, ticket, "corrected", what)
    placed_by_hand = ticket.route.startswith(("dispatcher:", "transfer:"))
    if reroute and ticket.state == S.assigned.value and not placed_by_hand:
        choice = route(desk, ticket)
        if choice is not None and choice.person.id != ticket.assignee_id:
            previous = ticket.assignee_id
            assign(desk, ticket, choice, actor_id=actor.id, kind="rerouted", note=what)
            desk.notifier.taken_off(ticket, previous, TakenOff.rerouted)
    elif ticket.state == S.assigned.value and ticket.assigned_at is not None:
        set_deadlines(
            desk.session,
            ticket,
            ticket.assigned_at,
            sla=desk.office.sla,
            calendar=desk.office.calendar,
        )
    return Done(ticket, note=what)


def _latest_correctable(session: Session, person_id: int) -> Ticket | None:
    stmt = (
        select(Ticket)
        .where(
            Ticket.reporter_id == person_id,
            col(Ticket.state).in_([s.value for s in CORRECTABLE]),
        )
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(stmt).first()


def _category_code(taxonomy: Taxonomy, word: str) -> str | None:
    """A category by code, name, part of its name or one of its keywords."""
    word = word.strip()
    if not word:
        return None
    for category in taxonomy.categories:
        if word in (category.code, category.name) or word in category.name:
            return category.code
    for category in taxonomy.categories:
        if word in category.keywords:
            return category.code
    return None


def village_names(session: Session) -> tuple[str, ...]:
    """Every village name on the roster, sorted (from the process's directory)."""
    return directory_of(session).places.village_names


def find_village(session: Session, name: str, near: Place | None) -> Place | None:
    """A village by name, preferring one in the same town as `near`."""
    card = directory_of(session).places.find_village(name, near)
    return session.get(Place, card.id) if card is not None else None


def _short_village(name: str) -> str:
    for suffix in texts.VILLAGE_ENDINGS:
        name = name.removesuffix(suffix)
    return name


def _village(session: Session, ticket: Ticket, change: Correction) -> Place:
    """The village a place correction names ("" keeps the ticket's own)."""
    body = (change.place or "").strip()
    current = session.get(Place, ticket.village_id) if ticket.village_id else None
    if not body:
        if current is None:
            raise Refusal(Reason.unknown_village, ticket=ticket.id, word=change.typed)
        return current
    names = village_names(session)
    exact = [n for n in names if n == body]
    loose = [n for n in names if _short_village(n) == body.removesuffix(texts.VILLAGE_ENDINGS[0])]
    matches = exact or loose
    village = find_village(session, matches[0], current) if matches else None
    if village is None:
        raise Refusal(Reason.unknown_village, ticket=ticket.id, word=body)
    return village


def withdraw(desk: Desk, actor: Actor, ticket_id: int, note: str = "") -> Done:
    """撤回: the reporter withdraws their own ticket before it is resolved."""
    ticket = _own(desk, actor, ticket_id)
    _in_state(ticket, WITHDRAWABLE)
    cancel_pending_requests(
        desk.session, ticket, desk.now, texts.WITHDRAWN_REQUESTS_NOTE.format(id=ticket.id)
    )
    _step(desk, actor, ticket, S.invalid, "withdrawn", note or texts.WITHDRAWN_NOTE)
    desk.notifier.withdrawn(ticket, ticket.assignee_id)
    return Done(ticket)
