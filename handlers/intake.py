"""Intake (受理): a bound reporter's words, photos, voice and locations become a ticket."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from handlers import questions, texts
from handlers.assignment import assign, category_name, notify, route, ticket_fields
from handlers.commands import chinese_number, parse_command
from handlers.parser import COURTESY, FORWARDED, LOGISTICS, RESOLVED, GrievanceParser, ParseResult
from handlers.router import NO_REPLY, Context, Message, Reply, to_simplified
from models.conversation import Question
from models.person import REPORTER_ROLES, Person, roles_of
from models.place import Place, PlaceKind, village_of
from models.routing import RouteChoice, dispatchers_for
from models.ticket import Attachment, Ticket, TicketState
from models.tickets import (
    add_attachment,
    cancel_pending_requests,
    locate,
    new_ticket,
    open_draft_of,
    recent_ticket_of,
    stale_drafts,
)
from models.workflow import change_state, record_event

MEDIA_TYPES = ("image", "voice", "video", "shortvideo", "location", "link", "file")
CORRECTABLE = (TicketState.submitted.value, TicketState.assigned.value)
WITHDRAWABLE = (
    TicketState.draft.value,
    TicketState.submitted.value,
    TicketState.assigned.value,
    TicketState.accepted.value,
    TicketState.in_progress.value,
    TicketState.returned.value,
)
DRAFT_TIMEOUT = timedelta(days=1)

# One parser per process: each holds jieba's dictionary (about 70 MB), so when the roster's
# villages change the old one is dropped rather than kept beside the new one.
_parser: tuple[tuple[tuple[str, ...], str], GrievanceParser] | None = None


def village_names(session: Session) -> tuple[str, ...]:
    """Every village name on the roster, sorted (the parser's place words)."""
    stmt = select(Place.name).where(Place.kind == PlaceKind.village.value).distinct()
    return tuple(sorted(session.exec(stmt)))


def parser_for(ctx: Context) -> GrievanceParser:
    """The parser for this roster's villages, rebuilt only when the village list changes."""
    global _parser
    key = (village_names(ctx.session), str(ctx.settings.taxonomy_file))
    if _parser is None or _parser[0] != key:
        _parser = (key, GrievanceParser(ctx.taxonomy, key[0]))
    return _parser[1]


def warm_up(ctx: Context) -> None:
    """Build the parser before the first message arrives (jieba takes about half a second)."""
    if village_names(ctx.session):
        parser_for(ctx)


def home_of(session: Session, person: Person) -> tuple[Place | None, int | None]:
    """The reporter's own village and group number, from the roster."""
    place = session.get(Place, person.place_id)
    if place is None:
        return None, None
    village = village_of(session, place)
    number = place.number if place.kind == PlaceKind.group.value else None
    return village, number


def find_village(session: Session, name: str, near: Place | None) -> Place | None:
    """A village by name, preferring one in the same town as `near`."""
    candidates = list(
        session.exec(select(Place).where(Place.name == name, Place.kind == PlaceKind.village.value))
    )
    if near is not None and len(candidates) > 1:
        town_path = "/".join(near.path.split("/")[:-3]) + "/"
        same_town = [c for c in candidates if c.path.startswith(town_path)]
        candidates = same_town or candidates
    return candidates[0] if candidates else None


def _parse(
    ctx: Context, person: Person, text: str, *, assume_problem: bool = False
) -> tuple[ParseResult, Place | None]:
    home_village, home_group = home_of(ctx.session, person)
    result = parser_for(ctx).parse(
        to_simplified(text),
        home_village.name if home_village else None,
        home_group,
        assume_problem=assume_problem,
    )
    village = home_village
    if result.village and (home_village is None or result.village != home_village.name):
        village = find_village(ctx.session, result.village, home_village) or home_village
    return result, village


def _fill(ctx: Context, ticket: Ticket, result: ParseResult, village: Place | None) -> None:
    ticket.category = result.category or "other"
    ticket.summary = result.summary[:120]
    ticket.confidence = result.confidence
    ticket.urgent = result.urgent
    ticket.households = result.households
    locate(ctx.session, ticket, village, result.group)


def _route_and_assign(ctx: Context, ticket: Ticket, person: Person) -> None:
    choice = route(ctx, ticket)
    if choice is not None:
        assign(ctx, ticket, choice, actor_id=None)


# Below this confidence the reply offers the correction of the category the parser thought next.
SURE_OF_CATEGORY = 0.9


def _created_reply(ctx: Context, ticket: Ticket, result: ParseResult, person: Person) -> str:
    fields = ticket_fields(ctx, ticket)
    return texts.TICKET_CREATED.format(fixit=_fixit_line(ctx, ticket, result, person), **fields)


def _fixit_line(ctx: Context, ticket: Ticket, result: ParseResult, person: Person) -> str:
    """The corrections this ticket may need, and no others: the runner-up category when the
    parser was unsure, the reporter's own village when another was read, the other urgency."""
    fixes = []
    if result.confidence < SURE_OF_CATEGORY:
        if result.runner_up:
            fixes.append(
                texts.FIX_CATEGORY.format(name=category_name(ctx.office, result.runner_up))
            )
        else:
            fixes.append(texts.FIX_CATEGORY_ANY)
    home, group = home_of(ctx.session, person)
    if home is not None and home.id != ticket.village_id:
        place = f"{home.name} {group}组" if group else home.name
        fixes.append(texts.FIX_PLACE.format(place=place))
    fixes.append(texts.FIX_NOT_URGENT if ticket.urgent else texts.FIX_URGENT)
    return texts.FIXIT.format(fixes=texts.FIX_SEPARATOR.join(fixes), id=ticket.id)


def friendly_reply(text: str) -> str:
    """A short, warm answer to a greeting, a thank-you or an acknowledgement."""
    if re.search(r"谢|感谢|辛苦|🙏", text):
        return texts.THANKS_REPLY
    if re.search(r"你好|您好|早上好|晚上好|在吗|在不在|hello|hi", text, re.IGNORECASE):
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
    village: Place | None,
    draft: Ticket | None,
) -> str:
    """A new ticket (or the waiting draft) from the words, routed; the reply that says so."""
    if draft is not None:
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
    else:
        ticket = new_ticket(
            ctx.session,
            reporter=person,
            channel=message.channel,
            sender=message.sender,
            text=text,
            now=ctx.now,
        )
    _fill(ctx, ticket, result, village)
    if message.type == "voice":
        add_attachment(ctx.session, ticket, _attachment_of(message), ctx.now)
    ctx.session.flush()
    _route_and_assign(ctx, ticket, person)
    return _created_reply(ctx, ticket, result, person)


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
    kind = texts.MEDIA_KINDS.get(message.type, "附件")
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
    locate(ctx.session, ticket, home_village, home_group)
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
        dispatchers = dispatchers_for(ctx.session, ticket)
        choice = (
            RouteChoice(dispatchers[0], "dispatcher:draft") if dispatchers else route(ctx, ticket)
        )
        if choice is not None:
            assign(ctx, ticket, choice, actor_id=None)
    return len(released)


# ---------------------------------------------------------------- corrections and withdrawal

CORRECTION_VERBS = ("改",)
WITHDRAW_VERBS = ("撤回", "撤销", "取消")


def _latest_correctable(session: Session, person_id: int) -> Ticket | None:
    stmt = (
        select(Ticket)
        .where(Ticket.reporter_id == person_id, col(Ticket.state).in_(CORRECTABLE))
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(stmt).first()


def _own_ticket(session: Session, person_id: int, number: int) -> Ticket | None:
    ticket = session.get(Ticket, number)
    return ticket if ticket is not None and ticket.reporter_id == person_id else None


def correct(message: Message, ctx: Context) -> Reply:
    """改 类别 饮水 / 改 村 张家村 3组 / 改 紧急 / 改 不急 — before the ticket is acknowledged."""
    person = ctx.person(message)
    command = parse_command(message.content, CORRECTION_VERBS)
    if person is None or command is None:
        return None
    assert person.id is not None
    if command.number is not None:
        ticket = _own_ticket(ctx.session, person.id, command.number)
        if ticket is None:
            return texts.NOT_FOUND.format(id=command.number)
        if ticket.state not in CORRECTABLE:
            return texts.CORRECTION_TOO_LATE.format(id=ticket.id)
    else:
        ticket = _latest_correctable(ctx.session, person.id)
        if ticket is None:
            return texts.NOTHING_TO_CORRECT
    rest = command.rest.replace(" ", "")
    taxonomy = ctx.taxonomy
    categories = "、".join(c.name for c in taxonomy.categories)
    reroute = False
    if rest.startswith(("类别", "分类", "类型")):
        word = re.sub(r"^(类别|分类|类型)(为|成|是)?", "", rest)
        code = _category_code(ctx, word)
        if code is None:
            return texts.UNKNOWN_CATEGORY.format(word=word, categories=categories)
        what = f"类别改为{taxonomy.get(code).name}"
        reroute = code != ticket.category
        ticket.category = code
    elif rest.startswith(("村", "地点", "组")):
        found = _place_correction(ctx, ticket, rest)
        if isinstance(found, str):
            return found
        village, group = found
        reroute = village.id != ticket.village_id
        locate(ctx.session, ticket, village, group)
        what = f"地点改为{village.name}{f'{group}组' if group else ''}"
    elif rest in ("紧急", "急", "加急", "很急"):
        ticket.urgent, what = True, "改为紧急"
    elif rest in ("不急", "不紧急", "一般"):
        ticket.urgent, what = False, "改为不急"
    else:
        return texts.CORRECTION_HELP.format(categories=categories)
    ticket.updated_at = ctx.now
    ctx.session.add(ticket)
    record_event(ctx.session, ticket, "corrected", now=ctx.now, actor_id=person.id, note=what)
    placed_by_hand = ticket.route.startswith(("dispatcher:", "transfer:"))
    if reroute and ticket.state == TicketState.assigned.value and not placed_by_hand:
        choice = route(ctx, ticket)
        if choice is not None and choice.person.id != ticket.assignee_id:
            previous = ticket.assignee_id
            assign(ctx, ticket, choice, actor_id=person.id, kind="rerouted", note=what)
            text = texts.NOTIFY_TAKEN_OFF_REROUTED.format(id=ticket.id)
            notify(ctx, previous, "taken_off", text, ticket)
    elif ticket.state == TicketState.assigned.value and ticket.assigned_at is not None:
        from models.deadlines import set_deadlines

        set_deadlines(ctx.session, ticket, ticket.assigned_at, sla=ctx.sla, calendar=ctx.calendar)
    fields = ticket_fields(ctx, ticket)
    return texts.CORRECTED.format(what=what, **fields)


def _category_code(ctx: Context, word: str) -> str | None:
    taxonomy = ctx.taxonomy
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


def _place_correction(ctx: Context, ticket: Ticket, rest: str) -> tuple[Place, int | None] | str:
    body = re.sub(r"^(村|地点)(为|成|是|到)?", "", rest)
    group = None
    match = re.search(r"第?(\d{1,3}|[一二两三四五六七八九十]{1,3})[组队]", body)
    if match:
        group = chinese_number(match.group(1))
        body = body[: match.start()] + body[match.end() :]
    body = body.strip()
    current = ctx.session.get(Place, ticket.village_id) if ticket.village_id else None
    if not body:
        if current is None:
            return texts.UNKNOWN_VILLAGE.format(word=rest)
        return current, group
    names = village_names(ctx.session)
    exact = [n for n in names if n == body]
    loose = [
        n for n in names if n.removesuffix("村").removesuffix("社区") == body.removesuffix("村")
    ]
    matches = exact or loose
    village = find_village(ctx.session, matches[0], current) if matches else None
    if village is None:
        return texts.UNKNOWN_VILLAGE.format(word=body)
    return village, group


def withdraw(message: Message, ctx: Context) -> Reply:
    """撤回 #12 — the reporter withdraws their own ticket before it is resolved."""
    person = ctx.person(message)
    command = parse_command(message.content, WITHDRAW_VERBS)
    if person is None or command is None:
        return None
    assert person.id is not None
    if command.number is None:
        return texts.NEED_NUMBER.format(example="撤回 #12")
    ticket = _own_ticket(ctx.session, person.id, command.number)
    if ticket is None:
        return texts.NOT_FOUND.format(id=command.number)
    if ticket.state not in WITHDRAWABLE:
        return texts.CANNOT_WITHDRAW.format(id=ticket.id)
    cancel_pending_requests(ctx.session, ticket, ctx.now, texts.WITHDRAWN.format(id=ticket.id))
    change_state(
        ctx.session,
        ticket,
        TicketState.invalid,
        kind="withdrawn",
        now=ctx.now,
        actor_id=person.id,
        note=command.note or "反映人撤回",
    )
    notify(
        ctx, ticket.assignee_id, "withdrawn", texts.NOTIFY_WITHDRAWN.format(id=ticket.id), ticket
    )
    return texts.WITHDRAWN.format(id=ticket.id)


def ignore_location_reports(message: Message, ctx: Context) -> Reply:
    """LOCATION events arrive every few seconds when a user shares location: nothing to say."""
    return NO_REPLY
