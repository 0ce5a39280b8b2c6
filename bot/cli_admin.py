"""`grievance-bot admin`: the first administrator of the web pages, and a way in for them."""

from __future__ import annotations

from datetime import timedelta

import click
from sqlmodel import col, select

from bot.cli_support import open_database
from config.settings import get_settings
from models.base import utcnow
from models.db import read_session, unit_of_work
from models.person import Person, PersonRole, Role
from models.place import Place, find_places
from web import texts
from web.links import sign_in_url

ADMIN_LINK_LIFETIME = timedelta(minutes=15)


@click.group()
def admin() -> None:
    """Administrators of the web pages: grant, revoke, list, and a one-off sign-in link."""


@admin.command("grant")
@click.argument("phone")
@click.option("--name", help="Add the person to the roster under this name when missing.")
@click.option("--place", "place_name", help="The place (town, county) of a person added here.")
def grant(phone: str, name: str | None, place_name: str | None) -> None:
    """Make the roster person with PHONE an administrator (adding them with --name/--place)."""
    with open_database() as engine, unit_of_work(engine) as session:
        person = session.exec(select(Person).where(Person.phone == phone)).first()
        if person is None:
            if not (name and place_name):
                raise click.ClickException(texts.ADMIN_NEEDS_PLACE.format(phone=phone))
            places = sorted(find_places(session, place_name), key=lambda p: p.depth)
            if not places:
                raise click.ClickException(texts.ADMIN_UNKNOWN_PLACE.format(name=place_name))
            assert places[0].id is not None
            person = Person(name=name, phone=phone, place_id=places[0].id)
            session.add(person)
            session.flush()
        assert person.id is not None
        person.active = True
        session.add(person)
        if session.get(PersonRole, (person.id, Role.admin.value)) is None:
            session.add(PersonRole(person_id=person.id, role=Role.admin.value))
        click.echo(texts.ADMIN_GRANTED.format(name=person.name, phone=person.phone))


@admin.command("revoke")
@click.argument("phone")
def revoke(phone: str) -> None:
    """Take the administrator role from the person with PHONE."""
    with open_database() as engine, unit_of_work(engine) as session:
        person = session.exec(select(Person).where(Person.phone == phone)).first()
        if person is None or person.id is None:
            raise click.ClickException(texts.ADMIN_NOT_FOUND.format(phone=phone))
        role = session.get(PersonRole, (person.id, Role.admin.value))
        if role is not None:
            session.delete(role)
        click.echo(texts.ADMIN_REVOKED.format(name=person.name, phone=person.phone))


@admin.command("list")
def list_admins() -> None:
    """Every administrator, with phone and place."""
    with open_database() as engine, read_session(engine) as session:
        stmt = (
            select(Person, Place)
            .join(PersonRole, col(PersonRole.person_id) == Person.id)
            .join(Place, col(Place.id) == Person.place_id)
            .where(PersonRole.role == Role.admin.value)
            .order_by(col(Person.id))
        )
        rows = list(session.exec(stmt))
    if not rows:
        click.echo(texts.ADMIN_NONE)
    for person, place in rows:
        click.echo(texts.ADMIN_LINE.format(name=person.name, phone=person.phone, place=place.name))


@admin.command("link")
@click.argument("phone")
def link(phone: str) -> None:
    """Print a sign-in link for the administrator with PHONE (15 minutes; give it to them only)."""
    settings = get_settings().with_development_credentials()
    with open_database() as engine, read_session(engine) as session:
        person = session.exec(select(Person).where(Person.phone == phone)).first()
        if person is None or person.id is None or not person.active:
            raise click.ClickException(texts.ADMIN_NOT_FOUND.format(phone=phone))
        if session.get(PersonRole, (person.id, Role.admin.value)) is None:
            raise click.ClickException(texts.ADMIN_NOT_FOUND.format(phone=phone))
        url = sign_in_url(settings, person.id, "/", utcnow(), ADMIN_LINK_LIFETIME)
    minutes = int(ADMIN_LINK_LIFETIME.total_seconds() // 60)
    click.echo(texts.ADMIN_LINK.format(name=person.name, minutes=minutes, url=url))
