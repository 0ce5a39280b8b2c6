"""`grievance-bot ticket show|list`: tickets as the office sees them, for people or machines."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

import click
from sqlmodel import Session, col, select

from bot import texts as bot_texts
from bot.cli_support import open_database
from config.calendar import TIMEZONE
from config.office import load_office
from config.settings import get_settings
from handlers import texts
from handlers.assignment import category_name, place_label
from handlers.views import EVENT_NAMES, event_note, route_label, state_name
from models.db import read_session
from models.person import Person
from models.place import Place, find_places
from models.ticket import Attachment, Ticket, TicketState
from models.workflow import timeline


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_record(session: Session, ticket: Ticket) -> dict[str, Any]:
    """A ticket with its assignee, route, attachments and full timeline, as plain data."""
    office = load_office(get_settings())
    assert ticket.id is not None
    people: dict[int, Person | None] = {}

    def person(person_id: int | None) -> dict[str, Any] | None:
        if person_id is None:
            return None
        if person_id not in people:
            people[person_id] = session.get(Person, person_id)
        found = people[person_id]
        return {
            "id": person_id,
            "name": found.name if found else None,
            "phone": found.phone if found else None,
        }

    attachments = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))
    return {
        "id": ticket.id,
        "state": ticket.state,
        "state_name": state_name(ticket),
        "category": ticket.category,
        "category_name": category_name(office, ticket.category),
        "place": place_label(session, ticket),
        "village_id": ticket.village_id,
        "group": ticket.group_number,
        "urgent": ticket.urgent,
        "households": ticket.households,
        "text": ticket.text,
        "summary": ticket.summary,
        "reporter": person(ticket.reporter_id),
        "assignee": person(ticket.assignee_id),
        "route": ticket.route,
        "result": ticket.result,
        "rating": ticket.rating,
        "duplicate_of": ticket.duplicate_of_id,
        "reopen_count": ticket.reopen_count,
        "return_count": ticket.return_count,
        "created_at": _iso(ticket.created_at),
        "assigned_at": _iso(ticket.assigned_at),
        "accepted_at": _iso(ticket.accepted_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "ack_due_at": _iso(ticket.ack_due_at),
        "resolve_due_at": _iso(ticket.resolve_due_at),
        "route_name": route_label(ticket.route) if ticket.route else None,
        "attachments": [
            {
                "kind": a.kind,
                "kind_name": texts.MEDIA_KINDS.get(a.kind, texts.ATTACHMENT_KIND),
                "media_id": a.media_id,
                "url": a.url,
                "downloaded": a.downloaded_at is not None,
                "downloaded_at": _iso(a.downloaded_at),
                "file": a.file_path,
                "download_error": a.download_error,
                "latitude": a.latitude,
                "longitude": a.longitude,
                "label": a.label,
                "at": _iso(a.created_at),
            }
            for a in attachments
        ],
        "timeline": [
            {
                "at": _iso(event.at),
                "kind": event.kind,
                "actor": person(event.actor_id),
                "from": event.from_state,
                "to": event.to_state,
                "note": event.note,
                "note_text": event_note(event.kind, event.note),
            }
            for event in timeline(session, ticket.id)
        ],
    }


@click.group()
def ticket() -> None:
    """Tickets."""


@ticket.command("show")
@click.argument("ticket_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def show(ticket_id: int, as_json: bool) -> None:
    """Show one ticket: fields, assignee, route and timeline."""
    with open_database() as engine, read_session(engine) as session:
        found = session.get(Ticket, ticket_id)
        if found is None:
            click.echo(texts.CLI_NO_TICKET.format(id=ticket_id), err=True)
            raise SystemExit(1)
        record = ticket_record(session, found)
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    click.echo("\n".join(show_lines(record)))


def _when(iso: str | None) -> str:
    """A stored moment as the office reads it, in Asia/Shanghai: 2026-11-30 10:00."""
    if iso is None:
        return "—"
    return datetime.fromisoformat(iso).astimezone(TIMEZONE).strftime(texts.CLI_TIME)


def _due(iso: str | None) -> str:
    """A deadline in Asia/Shanghai; one at midnight is 24:00 of the day it ends."""
    if iso is None:
        return "—"
    local = datetime.fromisoformat(iso).astimezone(TIMEZONE)
    if local.time() == time(0):
        return (local - timedelta(days=1)).strftime(texts.CLI_DATE) + " 24:00"
    return local.strftime(texts.CLI_TIME)


def _attachment_line(item: dict[str, Any]) -> str:
    if item["kind"] == "location":
        return texts.SHOW_LOCATION.format(
            lat=item["latitude"],
            lon=item["longitude"],
            label=item["label"] or "",
            at=_when(item["at"]),
        )
    if item["downloaded"]:
        state = texts.SHOW_DOWNLOADED.format(file=item["file"] or "—")
    elif item["download_error"]:
        state = texts.SHOW_DOWNLOAD_FAILED.format(error=item["download_error"])
    else:
        state = texts.SHOW_NOT_DOWNLOADED
    return texts.SHOW_ATTACHMENT.format(kind=item["kind_name"], state=state, at=_when(item["at"]))


def show_lines(record: dict[str, Any]) -> list[str]:
    """`ticket show` for people: every time in Asia/Shanghai, every code in words."""
    reporter = texts.SHOW_PERSON.format(**record["reporter"]) if record["reporter"] else "—"
    assignee = texts.SHOW_PERSON.format(**record["assignee"]) if record["assignee"] else "—"
    urgency = texts.LEDGER_URGENCY[bool(record["urgent"])]
    lines = [
        bot_texts.SHOW_HEADLINE.format(
            id=record["id"], category=record["category_name"], place=record["place"]
        ),
        texts.SHOW_STATE.format(state=record["state_name"], urgency=urgency),
        record["text"] or record["summary"],
        texts.SHOW_PEOPLE.format(
            reporter=reporter, assignee=assignee, route=record["route_name"] or "—"
        ),
        texts.SHOW_TIMES.format(
            created=_when(record["created_at"]),
            assigned=_when(record["assigned_at"]),
            accepted=_when(record["accepted_at"]),
            resolved=_when(record["resolved_at"]),
            closed=_when(record["closed_at"]),
        ),
        texts.SHOW_DEADLINES.format(
            ack=_due(record["ack_due_at"]), resolve=_due(record["resolve_due_at"])
        ),
    ]
    if record["households"] is not None:
        lines.append(texts.SHOW_HOUSEHOLDS.format(households=record["households"]))
    if record["duplicate_of"]:
        lines.append(texts.SHOW_MERGED.format(target=record["duplicate_of"]))
    if record["result"]:
        lines.append(texts.SHOW_RESULT.format(result=record["result"]))
    lines.append(texts.SHOW_ATTACHMENTS.format(count=len(record["attachments"])))
    lines += [_attachment_line(item) for item in record["attachments"]]
    lines.append(texts.SHOW_TIMELINE)
    for event in record["timeline"]:
        actor = event["actor"]["name"] if event["actor"] else texts.SHOW_SYSTEM
        name = EVENT_NAMES.get(event["kind"], texts.EVENT_OTHER)
        note = f"  {event['note_text']}" if event["note_text"] else ""
        lines.append(f"  {_when(event['at'])}  {actor}  {name}{note}")
    return lines


@ticket.command("list")
@click.option("--state", type=click.Choice([s.value for s in TicketState]), help="Only this state.")
@click.option("--place", "place_name", help="Only tickets in this place's subtree.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines for machines.")
def list_tickets(state: str | None, place_name: str | None, limit: int, as_json: bool) -> None:
    """List tickets, newest first."""
    with open_database() as engine, read_session(engine) as session:
        stmt = select(Ticket)
        if state:
            stmt = stmt.where(Ticket.state == state)
        if place_name:
            places = find_places(session, place_name)
            if not places:
                click.echo(texts.REPORT_UNKNOWN_PLACE.format(name=place_name), err=True)
                raise SystemExit(1)
            place: Place = places[0]
            stmt = stmt.where(col(Ticket.place_path).startswith(place.path))
        rows = list(session.exec(stmt.order_by(col(Ticket.id).desc()).limit(limit)))
        office = load_office(get_settings())
        for row in rows:
            assignee = session.get(Person, row.assignee_id) if row.assignee_id else None
            item = {
                "id": row.id,
                "state": row.state,
                "category": row.category,
                "place": place_label(session, row),
                "urgent": row.urgent,
                "assignee": assignee.name if assignee else None,
                "created_at": _iso(row.created_at),
                "resolve_due_at": _iso(row.resolve_due_at),
                "summary": row.summary,
            }
            if as_json:
                click.echo(json.dumps(item, ensure_ascii=False))
            else:
                click.echo(
                    f"#{row.id}\t{state_name(row)}\t{item['place']}\t"
                    f"{category_name(office, row.category)}\t{item['assignee'] or '—'}\t"
                    f"{row.summary}"
                )
