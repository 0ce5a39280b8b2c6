"""Imports every table module so that SQLModel.metadata knows them all (migrations, tests)."""

from models.conversation import ConversationState
from models.inbound import InboundMessage
from models.jobs import JobRun
from models.outbox import AccessToken, OutboxMessage
from models.person import BindingAttempt, Coverage, InviteCode, Person, PersonRole, Unit
from models.place import Place
from models.signin import SignInCode
from models.ticket import Attachment, Ticket, TicketAlert, TicketEvent, TicketRequest

__all__ = [
    "AccessToken",
    "Attachment",
    "BindingAttempt",
    "ConversationState",
    "Coverage",
    "InboundMessage",
    "InviteCode",
    "JobRun",
    "OutboxMessage",
    "Person",
    "PersonRole",
    "Place",
    "SignInCode",
    "Ticket",
    "TicketAlert",
    "TicketEvent",
    "TicketRequest",
    "Unit",
]
