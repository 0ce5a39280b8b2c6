"""`grievance-bot demo seed` and `grievance-bot demo scenario`, registered by bot/cli.py."""

from __future__ import annotations

import click
from sqlalchemy import Engine, func, text
from sqlmodel import SQLModel, col, select

import models.tables  # noqa: F401  (every table, for the reset)
from bot.cli_support import open_database
from config.settings import get_settings
from demo import phrasebook as say
from demo.clock import DEFAULT_SEED, MAX_MONTHS
from demo.people import ScenarioRefused
from demo.season import Season, SeasonResult
from demo.town import DemoTown, database_is_empty, load_demo_config, seed_demo_town
from handlers import texts
from models.db import read_session, unit_of_work
from models.figures import headline, headline_fields
from models.person import Person
from models.place import Place, PlaceKind, find_places
from models.roster import DEMO_PHONE_PREFIX
from models.ticket import STATE_NAMES, Ticket, TicketState


@click.group()
def demo() -> None:
    """The demo town 大栗港镇, for trying the bot out."""


@demo.command("seed")
def demo_seed() -> None:
    """Load 大栗港镇 with its generated roster into an empty database."""
    town_name = load_demo_config().town
    with open_database() as engine:
        with read_session(engine) as session:
            if find_places(session, town_name):
                click.echo(say.SEED_ALREADY.format(town=town_name))
                return
            if not database_is_empty(session):
                raise click.ClickException(say.SEED_NOT_EMPTY)
        seeded = seed_demo_if_empty(engine)
    assert seeded is not None
    click.echo(describe(seeded))


def seed_demo_if_empty(engine: Engine) -> DemoTown | None:
    """Seed the demo town when the database has no places and no people; None otherwise."""
    with unit_of_work(engine) as session:
        if not database_is_empty(session):
            return None
        return seed_demo_town(session)


def describe(demo_town: DemoTown) -> str:
    """One line saying what the demo seed made."""
    return say.SEEDED.format(
        town=demo_town.town.name,
        zones=len(demo_town.zones),
        villages=len(demo_town.villages),
        groups=len(demo_town.groups),
        neighbours=sum(len(people) for people in demo_town.neighbour_heads.values()),
        people=len(demo_town.people),
        units=len(demo_town.units),
        dispatcher=demo_town.dispatcher.wecom_userid,
    )


@demo.command("scenario")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help=say.HELP_SEED)
@click.option(
    "--months",
    default=9,
    show_default=True,
    type=click.IntRange(1, MAX_MONTHS),
    help=say.HELP_MONTHS,
)
@click.option("--reset", is_flag=True, help=say.HELP_RESET)
def scenario(seed: int, months: int, reset: bool) -> None:
    """Play a season in the demo town through the webhook, then print the town's figures."""
    settings = get_settings()
    if settings.is_production:
        raise ScenarioRefused(say.REFUSED_PRODUCTION)
    with open_database(settings) as engine:
        click.echo(prepare_database(engine, reset=reset))
        result = Season(engine, settings, seed=seed, months=months).play()
    for line in summary_lines(result):
        click.echo(line)


def prepare_database(engine: Engine, *, reset: bool) -> str:
    """Ready the database for a season: the demo town in it, no tickets yet; what was done."""
    town_name = load_demo_config().town
    with read_session(engine) as session:
        has_tickets = session.exec(select(Ticket.id).limit(1)).first() is not None
        empty = database_is_empty(session)
        has_town = (
            session.exec(
                select(Place.id).where(Place.name == town_name, Place.kind == PlaceKind.town.value)
            ).first()
            is not None
        )
        real_people = session.exec(
            select(func.count())
            .select_from(Person)
            .where(~col(Person.phone).startswith(DEMO_PHONE_PREFIX))
        ).one()
    if not empty and (not has_town or real_people):
        raise ScenarioRefused(say.REFUSED_OTHER_ROSTER.format(town=town_name))
    if has_tickets and not reset:
        raise ScenarioRefused(say.REFUSED_TICKETS)
    wiped = ""
    if reset and not empty:
        wipe(engine)
        empty, wiped = True, say.WIPED
    if not empty:
        return say.TOWN_KEPT.format(town=town_name)
    with unit_of_work(engine) as session:
        seed_demo_town(session)
    return say.TOWN_SEEDED.format(wiped=wiped, town=town_name)


def wipe(engine: Engine) -> None:
    """Delete every row of every table, numbering from 1 again (a demo database only)."""
    tables = [t for t in reversed(SQLModel.metadata.sorted_tables) if t.name != "alembic_version"]
    with unit_of_work(engine) as session:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                session.execute(table.delete())


def summary_lines(result: SeasonResult) -> list[str]:
    """What the season did and the town's figures at its end."""
    report = result.report
    fields = headline_fields(report)
    states = say.LIST_SEPARATOR.join(
        say.STATE_COUNT.format(state=STATE_NAMES.get(TicketState(state), state), count=count)
        for state, count in sorted(result.states.items(), key=lambda item: -item[1])
    )
    lines = [
        say.SUMMARY_SEASON.format(
            start=result.start,
            end=result.end,
            seed=result.seed,
            months=result.months,
            seconds=result.seconds,
        ),
        say.SUMMARY_MESSAGES.format(
            messages=sum(result.messages.values()),
            wechat=result.messages["wechat"],
            wecom=result.messages["wecom"],
            delivered=result.delivered,
            jobs=sum(result.job_runs.values()),
        ),
        say.SUMMARY_TICKETS.format(tickets=sum(result.states.values()), states=states),
        headline(report),
        texts.REPORT_TOTALS.format(**fields),
        texts.REPORT_RATES.format(**fields),
        texts.REPORT_MORE.format(**fields),
    ]
    if result.surprises:
        unexpected = say.LIST_SEPARATOR.join(
            say.STATE_COUNT.format(state=what, count=count)
            for what, count in result.surprises.items()
        )
        lines.append(say.SUMMARY_SURPRISES.format(surprises=unexpected))
    first = result.start.replace(day=1)
    lines.append(say.SUMMARY_REPORT.format(first=first, last=result.end))
    return lines
