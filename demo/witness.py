"""What the bot did, read from the database: the season learns through the models, not the words.

After each message the season asks what that message changed — the timeline lines it wrote
(a ticket made, 签收, 办结, a rating…), a ticket's category and place as the bot understood them,
whether a phone is bound — instead of reading the bot's sentences back. The replies are kept only
to log what surprised the season.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from models.db import read_session
from models.person import Person
from models.place import Place
from models.ticket import Ticket, TicketEvent, TicketState


@dataclass(frozen=True)
class Line:
    """One line a message wrote into a ticket's timeline."""

    id: int
    ticket_id: int
    kind: str
    actor_id: int | None
    to_state: str | None


@dataclass(frozen=True)
class Answer:
    """What one message did: the timeline lines it wrote, and the bot's reply for the log."""

    reply: str
    lines: tuple[Line, ...]

    def did(self, ticket: int, *kinds: str) -> bool:
        """Whether the message wrote a line of one of `kinds` on ticket `ticket`."""
        return any(line.ticket_id == ticket and line.kind in kinds for line in self.lines)

    @property
    def changed_nothing(self) -> bool:
        """A greeting, a query, a refusal: no ticket's timeline moved."""
        return not self.lines

    def new_ticket(self) -> int | None:
        """The ticket the message made (or completed from a waiting photo), if it made one."""
        for line in self.lines:
            made = line.kind == "created" and line.to_state != TicketState.draft.value
            if made or line.kind == "completed":
                return line.ticket_id
        return None


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as the bot understood it: its category code, urgency and village."""

    category: str | None
    urgent: bool
    village: str | None


class Witness:
    """Reads the season's database after each message; holds no state of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def last_line(self) -> int:
        """The id of the newest timeline line so far (0 before the first)."""
        with read_session(self.engine) as session:
            newest = session.exec(select(func.max(TicketEvent.id))).one()
        return int(newest or 0)

    def lines_after(self, mark: int) -> tuple[Line, ...]:
        """Every timeline line written after line `mark`, oldest first."""
        # Five columns: sqlalchemy's select, as sqlmodel's is typed for at most four.
        query = (
            sa_select(
                col(TicketEvent.id),
                col(TicketEvent.ticket_id),
                col(TicketEvent.kind),
                col(TicketEvent.actor_id),
                col(TicketEvent.to_state),
            )
            .where(col(TicketEvent.id) > mark)
            .order_by(col(TicketEvent.id))
        )
        with read_session(self.engine) as session:
            rows = session.execute(query).all()
        return tuple(Line(int(row[0]), *row[1:]) for row in rows)

    def ticket(self, number: int) -> TicketFacts | None:
        """Ticket `number`'s category, urgency and village as they stand."""
        with read_session(self.engine) as session:
            ticket = session.get(Ticket, number)
            if ticket is None:
                return None
            village = session.get(Place, ticket.village_id) if ticket.village_id else None
            return TicketFacts(ticket.category, ticket.urgent, village.name if village else None)

    def bound_to(self, openid: str) -> int | None:
        """The roster entry a 公众号 identity is bound to, if any."""
        with read_session(self.engine) as session:
            return session.exec(select(Person.id).where(Person.wechat_openid == openid)).first()
