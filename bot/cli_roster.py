"""`grievance-bot roster …`: the town's sheet in and out, invites."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlmodel import Session

from bot import texts as cli_texts
from bot.cli_support import open_database
from config.calendar import TIMEZONE
from handlers import texts
from models.base import utcnow
from models.binding import (
    InviteRefused,
    find_people,
    invite,
    unbind_person,
    unlock,
    unlock_who,
)
from models.db import read_session, unit_of_work
from models.outbox import enqueue
from models.person import ROLE_NAMES, Person, Role
from models.place import Place
from models.roster import (
    ImportResult,
    export_roster,
    find_town,
    import_roster,
    write_template,
)

log = logging.getLogger(__name__)


def _town(engine: Engine, name: str | None) -> Place:
    with read_session(engine) as session:
        town = find_town(session, name)
    if town is None:
        if name:
            raise click.ClickException(cli_texts.ROSTER_NO_SUCH_TOWN.format(name=name))
        raise click.ClickException(cli_texts.ROSTER_WHICH_TOWN)
    return town


@click.group()
def roster() -> None:
    """The roster: import the town's sheet, template, export; invite, unlock and unbind people."""


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--town", "town_name", help="The town the sheet is for (made when missing).")
@click.option("--county", "county_name", help="The county of a town made by this import.")
def roster_import(file: Path, town_name: str | None, county_name: str | None) -> None:
    """Import FILE (.xlsx or .csv); any bad row rejects the whole file and changes nothing."""
    with open_database() as engine, unit_of_work(engine) as session:
        # A file with problems changes nothing: the import checks every row before writing.
        result: ImportResult = import_roster(
            session, file, town_name=town_name, county_name=county_name
        )
    if not result.ok:
        for problem in result.errors:
            click.echo(str(problem), err=True)
        raise click.ClickException(result.summary())
    click.echo(result.summary())


@roster.command("template")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def roster_template(file: Path) -> None:
    """Write an empty sheet with the headers, one example row and instructions."""
    if file.suffix.lower() != ".xlsx":
        raise click.ClickException(cli_texts.ROSTER_TEMPLATE_NOT_XLSX)
    write_template(file)
    click.echo(cli_texts.ROSTER_TEMPLATE_WRITTEN.format(path=file))


@roster.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--town", "town_name", help="The town to export (needed when there are several).")
def roster_export(file: Path, town_name: str | None) -> None:
    """Write the town's active roster to FILE (.xlsx or .csv); it imports back unchanged."""
    if file.suffix.lower() not in (".xlsx", ".csv"):
        raise click.ClickException(cli_texts.ROSTER_EXPORT_WRONG_TYPE)
    with open_database() as engine:
        town = _town(engine, town_name)
        with read_session(engine) as session:
            count = export_roster(session, file, town)
    click.echo(cli_texts.ROSTER_EXPORTED.format(town=town.name, count=count, path=file))


def _one_person(session: Session, who: str) -> Person:
    """The one active person named or numbered WHO; a Click error listing namesakes otherwise."""
    people = find_people(session, who)
    if not people:
        raise click.ClickException(texts.ROSTER_NOBODY.format(who=who))
    if len(people) > 1:
        lines = [texts.ROSTER_SEVERAL.format(count=len(people), who=who)]
        for person in people:
            place = session.get(Place, person.place_id)
            lines.append(
                texts.ROSTER_SEVERAL_LINE.format(
                    name=person.name, phone=person.phone, place=place.name if place else ""
                )
            )
        raise click.ClickException("\n".join(lines))
    return people[0]


def _local(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")


@roster.command("invite")
@click.argument("who")
@click.option(
    "--move",
    is_flag=True,
    help=cli_texts.ROSTER_HELP_MOVE,
)
def roster_invite(who: str, move: bool) -> None:
    """Print a one-time 6-digit binding code for WHO (a name or a phone), valid for 7 days.

    Codes are for cadres, dispatchers, leaders and admins. A 邻长/组长/片长 binds by name and
    phone; a code for one (with --move) moves them to a new WeChat, telling the old one.
    """
    now = utcnow()
    with open_database() as engine, unit_of_work(engine) as session:
        person = _one_person(session, who)
        try:
            code, expires = invite(session, person, now, move=move)
        except InviteRefused as refused:
            roles = refused.roles
            names = cli_texts.LIST_JOIN.join(ROLE_NAMES[role] for role in Role if role in roles)
            raise click.ClickException(
                texts.ROSTER_INVITE_REPORTER.format(name=person.name, roles=names)
            ) from None
        bound = person.wechat_openid is not None
    click.echo(texts.ROSTER_INVITE_CODE.format(name=person.name, phone=person.phone, code=code))
    click.echo(texts.ROSTER_INVITE_EXPIRES.format(expires=_local(expires)))
    click.echo(texts.ROSTER_INVITE_HOW.format(code=code))
    if bound:
        click.echo(texts.ROSTER_INVITE_MOVES.format(name=person.name))


@roster.command("unlock")
@click.argument("who", required=False)
@click.option("--sender", help=cli_texts.ROSTER_HELP_SENDER)
@click.option("--all", "everyone", is_flag=True, help=cli_texts.ROSTER_HELP_ALL)
def roster_unlock(who: str | None, sender: str | None, everyone: bool) -> None:
    """Lift today's binding lock-out of WHO (a name or phone), of a sender, or of everybody."""
    if not (who or sender or everyone):
        raise click.UsageError(texts.ROSTER_UNLOCK_USAGE)
    now = utcnow()
    what: list[str] = []
    with open_database() as engine, unit_of_work(engine) as session:
        count = 0
        if who:
            what.append(texts.ROSTER_UNLOCK_WHO.format(who=who))
            count += unlock_who(session, now, who)
        if sender:
            what.append(texts.ROSTER_UNLOCK_SENDER.format(sender=sender))
        if everyone:
            what = [texts.ROSTER_UNLOCK_EVERYONE]
        if sender or everyone:
            count += unlock(session, now, sender=sender, everyone=everyone)
    label = cli_texts.LIST_JOIN.join(what)
    log.info("binding unlocked for %s: %d failures cleared", label, count)
    if count:
        click.echo(texts.ROSTER_UNLOCKED.format(what=label, count=count))
    else:
        click.echo(texts.ROSTER_NOTHING_LOCKED.format(what=label))


@roster.command("unbind")
@click.argument("who")
def roster_unbind(who: str) -> None:
    """Remove WHO's 公众号 binding (a name or phone); the old WeChat is told."""
    now = utcnow()
    with open_database() as engine, unit_of_work(engine) as session:
        person = _one_person(session, who)
        openid = unbind_person(session, person)
        if openid is not None:
            notice = texts.UNBOUND_BY_OFFICE_NOTICE.format(name=person.name, time=_local(now))
            enqueue(
                session,
                person_id=person.id,
                kind="binding_removed",
                text=notice,
                now=now,
                recipient=("wechat", openid),
            )
            log.warning(cli_texts.ROSTER_LOG_UNBOUND, person.id)
        name, phone, userid = person.name, person.phone, person.wecom_userid
    if openid is None:
        click.echo(texts.ROSTER_UNBIND_NONE.format(name=name, phone=phone))
    else:
        click.echo(texts.ROSTER_UNBOUND.format(name=name, phone=phone))
    if userid:
        click.echo(texts.ROSTER_UNBIND_WECOM.format(name=name, userid=userid))
