"""`grievance-bot ticket show|list`: tickets as the office sees them, for people or machines."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlmodel import Session, col, select

from bot.cli_support import open_database
from config.office import load_office
from config.settings import get_settings
from handlers.assignment import category_name, local_time, place_label
from handlers.views import EVENT_NAMES, state_name
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
        return {"id": person_id, "name": found.name if found else None}

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
        "attachments": [
            {"kind": a.kind, "media_id": a.media_id, "file": a.file_path, "label": a.label}
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
            raise click.ClickException(f"no ticket #{ticket_id}")
        record = ticket_record(session, found)
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    assignee = record["assignee"]["name"] if record["assignee"] else "—"
    reporter = record["reporter"]["name"] if record["reporter"] else "—"
    click.echo(f"#{record['id']}【{record['category_name']}】{record['place']}")
    click.echo(f"状态 {record['state_name']}")
    click.echo(record["text"] or record["summary"])
    click.echo(f"反映人 {reporter}  承办 {assignee}  派单路径 {record['route'] or '—'}")
    click.echo(f"签收期限 {local_time(found.ack_due_at)}")
    click.echo(f"办结期限 {local_time(found.resolve_due_at)}")
    for event in record["timeline"]:
        actor = event["actor"]["name"] if event["actor"] else "系统"
        name = EVENT_NAMES.get(event["kind"], event["kind"])
        click.echo(f"  {event['at']}  {actor}  {name}  {event['note']}")


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
                raise click.ClickException(f"no place named {place_name}")
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
