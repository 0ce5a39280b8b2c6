"""Intake (受理): a bound reporter's words, photos, voice and locations become a ticket."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers import questions, texts, words
from handlers.assignment import category_name, ticket_fields
from handlers.commands import Call, chinese_number, command
from handlers.notify import desk_of
from handlers.parser import COURTESY, FORWARDED, LOGISTICS, RESOLVED, ParseResult
from handlers.router import NO_REPLY, Context, Message, Reply, to_simplified
from models import actions
from models.actions import Correction, Reason, find_village, village_names
from models.conversation import Question
from models.directory import PlaceCard, directory_of
from models.person import REPORTER_ROLES, Person, roles_of
from models.place import PlaceKind
from models.routing import RouteChoice, dispatchers_for
from models.ticket import Attachment, Ticket, TicketState
from models.tickets import (
    add_attachment,
    new_ticket,
    open_draft_of,
    recent_ticket_of,
    stale_drafts,
)
from models.workflow import change_state

__all__ = ["find_village", "village_names"]  # bot/cli_parse.py reads the villages as intake does

MEDIA_TYPES = ("image", "voice", "video", "shortvideo", "location", "link", "file")
DRAFT_TIMEOUT = timedelta(days=1)


def home_of(session: Session, person: Person) -> tuple[PlaceCard | None, int | None]:
    """The reporter's own village and group number, from the roster (the process's directory)."""
    book = directory_of(session).places
    place = book.places.get(person.place_id)
    if place is None:
        return None, None
    village = book.village_of(place)
    number = place.number if place.kind == PlaceKind.group.value else None
    return village, number


def _parse(
    ctx: Context, person: Person, text: str, *, assume_problem: bool = False
) -> tuple[ParseResult, PlaceCard | None]:
    home_village, home_group = home_of(ctx.session, person)
    result = ctx.parsers.parser(ctx.session, ctx.taxonomy).parse(
        to_simplified(text),
        home_village.name if home_village else None,
        home_group,
        assume_problem=assume_problem,
    )
    village = home_village
    if result.village and (home_village is None or result.village != home_village.name):
        book = directory_of(ctx.session).places
        village = book.find_village(result.village, home_village) or home_village
    return result, village


def _fill(ctx: Context, ticket: Ticket, result: ParseResult, village: PlaceCard | None) -> None:
    ticket.category = result.category or "other"
    ticket.summary = result.summary[:120]
    ticket.confidence = result.confidence
    ticket.urgent = result.urgent
    ticket.households = result.households
    _locate(ctx, ticket, village, result.group)


def _locate(ctx: Context, ticket: Ticket, village: PlaceCard | None, group: int | None) -> None:
    """models/tickets.py's `locate`, from the directory: village, group, place and its path."""
    ticket.village_id = village.id if village else None
    ticket.group_number = group
    place = village
    if village is not None and group is not None:
        place = directory_of(ctx.session).places.group_in(village, group) or village
    ticket.place_id = place.id if place else None
    ticket.place_path = place.path if place else "/"


def _route_and_assign(ctx: Context, ticket: Ticket, person: Person) -> None:
    desk = desk_of(ctx)
    choice = actions.route(desk, ticket)
    if choice is not None:
        actions.assign(desk, ticket, choice, actor_id=None)


# Below this confidence the reply offers the correction of the category the parser thought next.
SURE_OF_CATEGORY = 0.9


def _created_reply(
    ctx: Context, ticket: Ticket, result: ParseResult, person: Person, asking: str | None = None
) -> str:
    fields = ticket_fields(ctx, ticket)
    fixit = _fixit_line(ctx, ticket, result, person, asking)
    return texts.TICKET_CREATED.format(fixit=fixit, **fields)


def _fixit_line(
    ctx: Context, ticket: Ticket, result: ParseResult, person: Person, asking: str | None = None
) -> str:
    """The corrections this ticket may need, and no others: the runner-up category when the
    parser was unsure, the reporter's own village when another was read, the other urgency.
    A field the next line asks about with numbered choices is not offered twice."""
    fixes = []
    if asking == "category":
        pass
    elif result.confidence < SURE_OF_CATEGORY:
        if result.runner_up:
            fixes.append(
                texts.FIX_CATEGORY.format(name=category_name(ctx.office, result.runner_up))
            )
        else:
            fixes.append(texts.FIX_CATEGORY_ANY)
    home, group = home_of(ctx.session, person)
    if home is not None and home.id != ticket.village_id and asking != "village":
        place = texts.HOME_PLACE.format(village=home.name, number=group) if group else home.name
        fixes.append(texts.FIX_PLACE.format(place=place))
    fixes.append(texts.FIX_NOT_URGENT if ticket.urgent else texts.FIX_URGENT)
    return texts.FIXIT.format(fixes=texts.FIX_SEPARATOR.join(fixes), id=ticket.id)


def friendly_reply(text: str) -> str:
    """A short, warm answer to a greeting, a thank-you or an acknowledgement."""
    if re.search(words.THANKS, text):
        return texts.THANKS_REPLY
    if re.search(words.GREETING, text, re.IGNORECASE):
        return texts.GREETING_REPLY
    return texts.ACK_REPLY


def not_a_problem_reply(result: ParseResult, text: str) -> str:
    """The answer to a message that is not a problem, by what it is instead."""
    if result.kind == COURTESY:
        return friendly_reply(text)
    return {
        RESOLVED: texts.RESOLVED_NEWS_REPLY,
        LOGISTICS: texts.LOGISTICS_REPLY,
        FORWARDED: texts.FORWARDED_REPLY,
    }.get(result.kind, texts.NOT_UNDERSTOOD)


IS_PROBLEM = "is_problem"
YES, NO = "yes", "no"


def report(message: Message, ctx: Context) -> Reply:
    """Free text (or a voice note with recognition text) from a bound person."""
    person = ctx.person(message)
    if person is None or not message.content.strip():
        return None
    assert person.id is not None
    if not roles_of(ctx.session, person.id) & REPORTER_ROLES:
        return texts.NOT_A_REPORTER  # a cadre's mistyped command must not become a ticket
    text = message.content.strip()
    result, village = _parse(ctx, person, text)
    draft = open_draft_of(ctx.session, person.id)
    if not result.is_grievance:
        if draft is not None and result.unsure:
            # The words a photo was waiting for: they say what the photo shows.
            result, village = _parse(ctx, person, text, assume_problem=True)
        elif draft is not None:
            return texts.DRAFT_STILL_WAITING.format(id=draft.id)
        elif result.unsure:
            kept = {"text": text, **_voice_of(message)}
            return questions.ask(message, ctx, IS_PROBLEM, (YES, NO), texts.ASK_IS_PROBLEM, kept)
        else:
            return not_a_problem_reply(result, text)
    return _make_ticket(message, ctx, person, text, result, village, draft)


@questions.answers(IS_PROBLEM)
def answer_is_problem(message: Message, ctx: Context, question: Question, choice: str) -> Reply:
    """1: the kept text becomes a ticket; 2: it is dropped."""
    person = ctx.person(message)
    text = str(question.context.get("text", ""))
    if choice != YES or person is None or person.id is None or not text:
        return texts.ASK_DECLINED
    result, village = _parse(ctx, person, text, assume_problem=True)
    source = _with_voice(message, question.context)
    draft = open_draft_of(ctx.session, person.id)
    return _make_ticket(source, ctx, person, text, result, village, draft)


def _voice_of(message: Message) -> dict[str, Any]:
    """What to keep of a voice note while its sender is asked about it."""
    if message.type != "voice":
        return {}
    return {"voice": {"media_id": message.media_id, "at": message.created_at.isoformat()}}


def _with_voice(message: Message, context: dict[str, Any]) -> Message:
    """The answer, standing for the kept voice note when the question was about one."""
    voice = context.get("voice")
    if not isinstance(voice, dict):
        return message
    return replace(
        message,
        type="voice",
        media_id=voice.get("media_id"),
        created_at=datetime.fromisoformat(voice["at"]),
    )


def _make_ticket(
    message: Message,
    ctx: Context,
    person: Person,
    text: str,
    result: ParseResult,
    village: PlaceCard | None,
    draft: Ticket | None,
) -> str:
    """A new ticket (or the waiting draft) from the words, routed; the reply that says so.

    A new ticket is inserted once, with its final fields (models/actions.py open_ticket).
    """
    if draft is None:
        ticket = Ticket(
            state=TicketState.submitted.value,
            channel=message.channel,
            sender=message.sender,
            reporter_id=person.id,
            text=text,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        _fill(ctx, ticket, result, village)
        voice = [_attachment_of(message)] if message.type == "voice" else []
        actions.open_ticket(desk_of(ctx), ticket, reporter_id=person.id, attachments=voice)
        return _with_question(message, ctx, ticket, result, person)
    ticket = draft
    ticket.text = text
    change_state(
        ctx.session,
        ticket,
        TicketState.submitted,
        kind="completed",
        now=ctx.now,
        actor_id=person.id,
        note=text[:200],
    )
    _fill(ctx, ticket, result, village)
    if message.type == "voice":
        add_attachment(ctx.session, ticket, _attachment_of(message), ctx.now)
    ctx.session.flush()
    _route_and_assign(ctx, ticket, person)
    return _with_question(message, ctx, ticket, result, person)


def _with_question(
    message: Message, ctx: Context, ticket: Ticket, result: ParseResult, person: Person
) -> str:
    """The reply to a new ticket, ending with the numbered question about a field the parser
    is unsure of (which then replaces the correction hint)."""
    asked = result.ask_fields[0] if result.ask_fields else None
    reply = _created_reply(ctx, ticket, result, person, asking=asked)
    if asked is None:
        return reply
    return reply + "\n" + _ask_field(message, ctx, ticket, result, asked)


# The parser's unsure fields and the question topic whose answer sets each.
ASK_TOPICS = {"category": "ticket_category", "village": "ticket_village"}


def _ask_field(
    message: Message, ctx: Context, ticket: Ticket, result: ParseResult, field: str
) -> str:
    """Put the numbered question about an unsure field; its one line."""
    choices = result.choices(field)
    if field == "category":
        names = [category_name(ctx.office, code) for code in choices]
        template = texts.ASK_CATEGORY
    else:
        names = list(choices)
        template = texts.ASK_VILLAGE
    listed = texts.ASK_CHOICE_JOINER.join(
        texts.ASK_CHOICE.format(number=number, name=name)
        for number, name in enumerate(names, start=1)
    )
    prompt = template.format(choices=listed)
    context = {"ticket": ticket.id, "group": result.group if result.group_said else None}
    return questions.ask(message, ctx, ASK_TOPICS[field], choices, prompt, context)


@questions.answers(ASK_TOPICS["category"])
def answer_category(message: Message, ctx: Context, question: Question, choice: str) -> Reply:
    """The number picked the ticket's category: corrected as 改 类别 would (a labelled example)."""
    return _answer_correction(message, ctx, question, Correction(category=choice, typed=choice))


@questions.answers(ASK_TOPICS["village"])
def answer_village(message: Message, ctx: Context, question: Question, choice: str) -> Reply:
    """The number picked the ticket's village, with the group the text named (or the sender's
    own group when the village picked is theirs)."""
    group = question.context.get("group")
    person = ctx.person(message)
    if group is None and person is not None:
        home, home_group = home_of(ctx.session, person)
        group = home_group if home is not None and home.name == choice else None
    change = Correction(place=choice, group=group, typed=choice)
    return _answer_correction(message, ctx, question, change)


def _answer_correction(
    message: Message, ctx: Context, question: Question, change: Correction
) -> Reply:
    person = ctx.person(message)
    number = question.context.get("ticket")
    if person is None or not isinstance(number, int):
        return None
    actor = actions.Actor.of(ctx.session, person, via="chat")
    try:
        done = actions.correct(desk_of(ctx), actor, number, change)
    except actions.Refusal as refusal:
        if refusal.reason == Reason.wrong_state:
            return texts.CORRECTION_TOO_LATE.format(id=number)
        return None
    fields = ticket_fields(ctx, done.ticket)
    return texts.CORRECTED.format(what=done.note, **fields)


def _attachment_of(message: Message) -> Attachment:
    return Attachment(
        ticket_id=0,
        kind=message.type,
        channel=message.channel,
        media_id=message.media_id,
        url=message.picture_url,
        latitude=message.latitude,
        longitude=message.longitude,
        label=message.label,
        created_at=message.created_at,
    )


def attach(message: Message, ctx: Context) -> Reply:
    """A photo, voice note, video or location: onto the recent ticket, or into a new draft."""
    person = ctx.person(message)
    if person is None:
        return None
    assert person.id is not None
    if not roles_of(ctx.session, person.id) & REPORTER_ROLES:
        return texts.NOT_A_REPORTER
    if message.type == "voice" and message.content.strip():
        return report(message, ctx)
    kind = texts.MEDIA_KINDS.get(message.type, texts.ATTACHMENT_KIND)
    ticket = open_draft_of(ctx.session, person.id) or recent_ticket_of(
        ctx.session, person.id, ctx.now
    )
    if ticket is not None:
        add_attachment(ctx.session, ticket, _attachment_of(message), ctx.now)
        if ticket.state == TicketState.draft.value:
            return texts.DRAFT_OPENED.format(kind=kind)
        return texts.ATTACHED.format(kind=kind, id=ticket.id)
    ticket = new_ticket(
        ctx.session,
        reporter=person,
        channel=message.channel,
        sender=message.sender,
        text="",
        now=ctx.now,
        state=TicketState.draft,
    )
    home_village, home_group = home_of(ctx.session, person)
    _locate(ctx, ticket, home_village, home_group)
    add_attachment(ctx.session, ticket, _attachment_of(message), ctx.now)
    return texts.DRAFT_OPENED.format(kind=kind)


def release_stale_drafts(ctx: Context) -> int:
    """Drafts nobody completed within a day go to the dispatcher with what they hold."""
    released = stale_drafts(ctx.session, ctx.now - DRAFT_TIMEOUT)
    for ticket in released:
        ticket.summary = ticket.summary or texts.DRAFT_SUMMARY
        ticket.category = ticket.category or "other"
        change_state(
            ctx.session,
            ticket,
            TicketState.submitted,
            kind="draft_timeout",
            now=ctx.now,
            note=texts.DRAFT_TIMEOUT_NOTE,
        )
        desk = desk_of(ctx)
        dispatchers = dispatchers_for(ctx.session, ticket)
        choice = (
            RouteChoice(dispatchers[0], "dispatcher:draft")
            if dispatchers
            else actions.route(desk, ticket)
        )
        if choice is not None:
            actions.assign(desk, ticket, choice, actor_id=None)
    return len(released)


# ---------------------------------------------------------------- corrections and withdrawal


@command(
    words.CORRECT,
    leave_prose=False,
    refusals={
        Reason.wrong_state: texts.CORRECTION_TOO_LATE,
        Reason.needs_text: texts.CORRECTION_HELP,
    },
)
def correct(call: Call) -> Reply:
    """改 类别 饮水 / 改 村 张家村 3组 / 改 紧急 / 改 不急 — before the ticket is acknowledged."""
    change = read_correction(call.command.rest.replace(" ", ""))
    done = actions.correct(call.desk, call.actor, call.command.number, change)
    fields = ticket_fields(call.ctx, done.ticket)
    return texts.CORRECTED.format(what=done.note, **fields)


def read_correction(rest: str) -> Correction:
    """What 改 … asks to change; an empty Correction when it names nothing we can change."""
    if rest.startswith(words.CATEGORY_FIELDS):
        return Correction(category=re.sub(words.CATEGORY_PREFIX, "", rest), typed=rest)
    if rest.startswith(words.PLACE_FIELDS):
        body = re.sub(words.PLACE_PREFIX, "", rest)
        group = None
        match = re.search(words.GROUP_IN_PLACE, body)
        if match:
            group = chinese_number(match.group(1))
            body = body[: match.start()] + body[match.end() :]
        return Correction(place=body.strip(), group=group, typed=rest)
    if rest in words.URGENT:
        return Correction(urgent=True, typed=rest)
    if rest in words.NOT_URGENT:
        return Correction(urgent=False, typed=rest)
    return Correction(typed=rest)


@command(
    words.WITHDRAW,
    leave_prose=False,
    usage=texts.WITHDRAW_USAGE,
    refusals={Reason.wrong_state: texts.CANNOT_WITHDRAW},
)
def withdraw(call: Call) -> Reply:
    """撤回 #12 — the reporter withdraws their own ticket before it is resolved."""
    done = actions.withdraw(call.desk, call.actor, call.number, call.command.note)
    return texts.WITHDRAWN.format(id=done.ticket.id)


def ignore_location_reports(message: Message, ctx: Context) -> Reply:
    """LOCATION events arrive every few seconds when a user shares location: nothing to say."""
    return NO_REPLY
