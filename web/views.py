"""What a ticket page shows, as plain data for the templates (no Flask here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from sqlmodel import Session

from config.calendar import TIMEZONE
from config.office import OfficeConfig
from handlers import texts as chat_texts
from handlers.assignment import category_name, person_label, place_label
from handlers.views import EVENT_NAMES, event_note, local_due, route_label, state_name
from models.person import Person
from models.ticket import OPEN_STATES, Attachment, Ticket, TicketState
from models.tickets import attachments_of
from models.workflow import timeline
from web import texts
from web.uploads import RESULT_LABEL

TIME_FORMAT = "%Y-%m-%d %H:%M"


def local(moment: datetime | None) -> str:
    """A stored moment in Asia/Shanghai, as the office reads it."""
    return moment.astimezone(TIMEZONE).strftime(TIME_FORMAT) if moment else "—"


@dataclass
class MediaItem:
    """A photo or voice note: a URL to the app's copy, or why there is none yet."""

    id: int
    kind: str
    url: str | None
    missing: str | None  # the sentence shown instead of the file


@dataclass
class PlaceItem:
    label: str
    latitude: float
    longitude: float
    map_url: str


@dataclass
class Step:
    at: str
    actor: str
    name: str
    note: str


@dataclass
class TicketPage:
    id: int
    title: str
    state: str
    state_name: str
    open: bool
    urgent: bool
    overdue: bool
    text: str
    category: str
    place: str
    households: int | None
    reporter: str
    reporter_phone: str | None
    assignee: str
    assignee_phone: str | None
    route: str
    created: str
    ack_due: str
    resolve_due: str
    result: str | None
    merged_into: int | None
    photos: list[MediaItem] = field(default_factory=list)
    result_photos: list[MediaItem] = field(default_factory=list)  # the fix, uploaded by its handler
    voices: list[MediaItem] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    places: list[PlaceItem] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def map_url(latitude: float, longitude: float, label: str) -> str:
    """A link a phone opens in its map app (高德's URI API; WeChat's coordinates are GCJ-02)."""
    name = quote(label or texts.LOCATION)
    return (
        f"https://uri.amap.com/marker?position={longitude},{latitude}&name={name}&coordinate=gaode"
    )


def _media(item: Attachment, can_download: bool) -> MediaItem:
    assert item.id is not None
    kind = chat_texts.MEDIA_KINDS.get(item.kind, chat_texts.ATTACHMENT_KIND)
    if item.file_path:
        return MediaItem(item.id, item.kind, f"/media/{item.id}", None)
    if item.download_error:
        missing = texts.DOWNLOAD_FAILED.format(kind=kind, error=item.download_error)
    elif not can_download:
        missing = texts.CONSOLE_MODE_MEDIA.format(kind=kind)
    else:
        missing = texts.NOT_DOWNLOADED.format(kind=kind)
    return MediaItem(item.id, item.kind, None, missing)


def ticket_page(
    session: Session,
    office: OfficeConfig,
    ticket: Ticket,
    now: datetime,
    *,
    downloads_channels: frozenset[str],
) -> TicketPage:
    """Everything the ticket page shows; media only as links the app serves after a scope check."""
    assert ticket.id is not None
    reporter = session.get(Person, ticket.reporter_id) if ticket.reporter_id else None
    assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    due = ticket.resolve_due_at
    category, place = category_name(office, ticket.category), place_label(session, ticket)
    short = ticket.summary if ticket.summary and ticket.summary != ticket.text else None
    page = TicketPage(
        id=ticket.id,
        title=short or texts.TITLE_FALLBACK.format(category=category, place=place),
        state=ticket.state,
        state_name=state_name(ticket),
        open=TicketState(ticket.state) in OPEN_STATES,
        urgent=ticket.urgent,
        overdue=bool(due and due < now and TicketState(ticket.state) in OPEN_STATES),
        text=ticket.text or texts.NO_TEXT,
        category=category,
        place=place,
        households=ticket.households,
        reporter=reporter.name if reporter else texts.NOBODY,
        reporter_phone=reporter.phone if reporter else None,
        assignee=person_label(session, assignee) if assignee else texts.NOBODY,
        assignee_phone=assignee.phone if assignee else None,
        route=route_label(ticket.route) if ticket.route else "—",
        created=local(ticket.created_at),
        ack_due=local_due(ticket.ack_due_at),
        resolve_due=local_due(ticket.resolve_due_at),
        result=ticket.result,
        merged_into=ticket.duplicate_of_id,
    )
    for item in attachments_of(session, ticket.id):
        if item.kind == "image" and item.label == RESULT_LABEL:
            page.result_photos.append(_media(item, True))
        elif item.kind == "image":
            page.photos.append(_media(item, item.channel in downloads_channels))
        elif item.kind == "voice":
            page.voices.append(_media(item, item.channel in downloads_channels))
        elif item.kind == "location" and item.latitude is not None and item.longitude is not None:
            label = item.label or ""
            page.places.append(
                PlaceItem(
                    label,
                    item.latitude,
                    item.longitude,
                    map_url(item.latitude, item.longitude, label),
                )
            )
        else:
            page.others.append(chat_texts.MEDIA_KINDS.get(item.kind, chat_texts.ATTACHMENT_KIND))
    names: dict[int, str] = {}
    for event in timeline(session, ticket.id):
        actor = texts.SYSTEM
        if event.actor_id is not None:
            if event.actor_id not in names:
                found = session.get(Person, event.actor_id)
                names[event.actor_id] = found.name if found else texts.SYSTEM
            actor = names[event.actor_id]
        page.steps.append(
            Step(
                at=local(event.at),
                actor=actor,
                name=EVENT_NAMES.get(event.kind, chat_texts.EVENT_OTHER),
                note=event_note(event.kind, event.note),
            )
        )
    return page
