"""The chat's notifier: what each ticket action tells people, worded from handlers/texts.py.

models/actions.py says who is told what (`Notifier`); this words it and writes it to the outbox
in the caller's transaction, as every chat notification is sent. The web reuses it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session

from config.office import OfficeConfig
from handlers import texts
from handlers.assignment import fields_of
from handlers.router import Context
from handlers.views import local_due
from models.actions import Desk, TakenOff
from models.directory import table_of
from models.outbox import OutboxMessage, outbox_row
from models.ticket import Ticket

# A request's kind as the people deciding it say it.
REQUEST_NAMES = texts.REQUEST_NAMES
TAKEN_OFF = {
    TakenOff.reassigned: texts.NOTIFY_TAKEN_OFF_REASSIGNED,
    TakenOff.merged: texts.NOTIFY_TAKEN_OFF_MERGED,
    TakenOff.invalid: texts.NOTIFY_TAKEN_OFF_INVALID,
    TakenOff.rerouted: texts.NOTIFY_TAKEN_OFF_REROUTED,
}


class ChatNotifier:
    """Queues one outbox message per person told, worded for a phone."""

    def __init__(self, session: Session, now: datetime, office: OfficeConfig) -> None:
        self.session, self.now, self.office = session, now, office

    def _send(self, person_id: int | None, kind: str, text: str, ticket: Ticket) -> None:
        if person_id is None:
            return
        # A Core insert: nothing here needs the row back, and the ORM's flush costs more.
        row = outbox_row(
            person_id=person_id, kind=kind, text=text, now=self.now, ticket_id=ticket.id
        )
        self.session.execute(insert(table_of(OutboxMessage)), [row])

    def _send_all(self, people: Sequence[int], kind: str, text: str, ticket: Ticket) -> None:
        for person_id in people:
            self._send(person_id, kind, text, ticket)

    def _fields(self, ticket: Ticket) -> dict[str, object]:
        return fields_of(self.session, self.office, ticket)

    def assigned(self, ticket: Ticket, assignee_id: int | None) -> None:
        text = texts.NOTIFY_ASSIGNED.format(**self._fields(ticket))
        self._send(assignee_id, "assigned", text, ticket)

    def accepted(self, ticket: Ticket, recipients: Sequence[int]) -> None:
        text = texts.NOTIFY_ACCEPTED.format(**self._fields(ticket))
        self._send_all(recipients, "accepted", text, ticket)

    def progressed(self, ticket: Ticket, recipients: Sequence[int], note: str) -> None:
        text = texts.NOTIFY_PROGRESS.format(id=ticket.id, note=note)
        self._send_all(recipients, "progress", text, ticket)

    def resolved(
        self, ticket: Ticket, reporter_id: int | None, others: Sequence[int], result: str
    ) -> None:
        fields = self._fields(ticket)
        self._send(
            reporter_id, "resolved", texts.NOTIFY_RESOLVED.format(result=result, **fields), ticket
        )
        text = texts.NOTIFY_RESOLVED_FOLLOWER.format(result=result, **fields)
        self._send_all(others, "resolved", text, ticket)

    def return_requested(self, ticket: Ticket, dispatcher_ids: Sequence[int], reason: str) -> None:
        text = texts.NOTIFY_RETURN_REQUEST.format(reason=reason, **self._fields(ticket))
        self._send_all(dispatcher_ids, "return_request", text, ticket)

    def returned(self, ticket: Ticket, recipients: Sequence[int]) -> None:
        text = texts.NOTIFY_RETURNED_TO_REPORTER.format(id=ticket.id)
        self._send_all(recipients, "returned", text, ticket)

    def reassigned(self, ticket: Ticket, recipients: Sequence[int]) -> None:
        text = texts.NOTIFY_REASSIGNED_TO_REPORTER.format(**self._fields(ticket))
        self._send_all(recipients, "reassigned", text, ticket)

    def extension_requested(
        self, ticket: Ticket, dispatcher_ids: Sequence[int], days: int, reason: str
    ) -> None:
        fields = self._fields(ticket)
        text = texts.NOTIFY_EXTENSION_REQUEST.format(days=days, reason=reason, **fields)
        self._send_all(dispatcher_ids, "extension_request", text, ticket)

    def extension_approved(self, ticket: Ticket, requester_id: int | None, due: datetime) -> None:
        text = texts.NOTIFY_EXTENSION_APPROVED.format(id=ticket.id, due=local_due(due))
        self._send(requester_id, "extension_approved", text, ticket)

    def request_rejected(
        self, ticket: Ticket, requester_id: int | None, kind: str, reason: str
    ) -> None:
        name = REQUEST_NAMES.get(kind, kind)
        text = texts.NOTIFY_REQUEST_REJECTED.format(id=ticket.id, request=name, reason=reason)
        self._send(requester_id, f"{kind}_rejected", text, ticket)

    def taken_off(
        self,
        ticket: Ticket,
        person_id: int | None,
        why: TakenOff,
        *,
        into: int | None = None,
        reason: str = "",
    ) -> None:
        text = TAKEN_OFF[why].format(id=ticket.id, target=into, reason=reason)
        self._send(person_id, "taken_off", text, ticket)

    def merged(self, ticket: Ticket, reporter_id: int | None, into: Ticket) -> None:
        text = texts.NOTIFY_MERGED.format(id=ticket.id, target=into.id)
        self._send(reporter_id, "merged", text, ticket)

    def invalidated(self, ticket: Ticket, reporter_id: int | None, reason: str) -> None:
        text = texts.NOTIFY_INVALID.format(id=ticket.id, reason=reason)
        self._send(reporter_id, "invalid", text, ticket)

    def reopened(self, ticket: Ticket, assignee_id: int | None, reason: str) -> None:
        text = texts.NOTIFY_REOPENED.format(reason=reason, **self._fields(ticket))
        self._send(assignee_id, "reopened", text, ticket)

    def withdrawn(self, ticket: Ticket, assignee_id: int | None) -> None:
        text = texts.NOTIFY_WITHDRAWN.format(id=ticket.id)
        self._send(assignee_id, "withdrawn", text, ticket)


def desk_of(ctx: Context) -> Desk:
    """Where a chat message's ticket actions happen: its transaction, time, office and notifier."""
    return Desk(ctx.session, ctx.now, ctx.office, ChatNotifier(ctx.session, ctx.now, ctx.office))
