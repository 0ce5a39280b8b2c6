"""`grievance-bot roster …` and `grievance-bot demo seed`: the town's sheet in and out, invites."""

from __future__ import annotations

import logging
from datetime import timedelta, timezone
from pathlib import Path

import click
from sqlalchemy import Engine

from bot.cli_support import open_database
from bot.scenario import scenario
from models.base import utcnow
from models.binding import create_invite, find_people
from models.db import read_session, unit_of_work
from models.demo_town import DemoTown, database_is_empty, load_demo_config, seed_demo_town
from models.place import Place, find_places
from models.roster import ImportResult, export_roster, find_town, import_roster, write_template

log = logging.getLogger(__name__)
CHINA = timezone(timedelta(hours=8))


def _town(engine: Engine, name: str | None) -> Place:
    with read_session(engine) as session:
        town = find_town(session, name)
    if town is None:
        if name:
            raise click.ClickException(f"没有叫“{name}”的镇。")
        raise click.ClickException("请用 --town 指定镇名（数据库里没有镇，或有不止一个镇）。")
    return town


@click.group()
def roster() -> None:
    """The roster: import the town's sheet, write a template, export, invite cadres."""


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
        raise click.ClickException("模板是 Excel 文件，请用 .xlsx 结尾的文件名。")
    write_template(file)
    click.echo(f"已生成名册模板：{file}")


@roster.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--town", "town_name", help="The town to export (needed when there are several).")
def roster_export(file: Path, town_name: str | None) -> None:
    """Write the town's active roster to FILE (.xlsx or .csv); it imports back unchanged."""
    if file.suffix.lower() not in (".xlsx", ".csv"):
        raise click.ClickException("只能导出为 .xlsx 或 .csv 文件。")
    with open_database() as engine:
        town = _town(engine, town_name)
        with read_session(engine) as session:
            count = export_roster(session, file, town)
    click.echo(f"已导出 {town.name} 名册 {count} 人：{file}")


@roster.command("invite")
@click.argument("who")
def roster_invite(who: str) -> None:
    """Print a one-time 6-digit binding code for WHO (a name or a phone), valid for 7 days."""
    now = utcnow()
    with open_database() as engine, unit_of_work(engine) as session:
        people = find_people(session, who)
        if not people:
            raise click.ClickException(f"名册中没有在岗的“{who}”。")
        if len(people) > 1:
            lines = [f"有 {len(people)} 个人叫“{who}”，请改用手机号："]
            for person in people:
                place = session.get(Place, person.place_id)
                lines.append(f"  {person.name}  {person.phone}  {place.name if place else ''}")
            raise click.ClickException("\n".join(lines))
        person = people[0]
        code, expires = create_invite(session, person, now)
    local = expires.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    click.echo(f"{person.name}（{person.phone}）的邀请码：{code}")
    click.echo(f"有效期至 {local}（北京时间），只能用一次；之前发的邀请码已作废。")
    click.echo(f"请本人在公众号或企业微信里发送：绑定 {code}")


@click.group()
def demo() -> None:
    """The demo town 大栗港镇, for trying the bot out."""


demo.add_command(scenario)


@demo.command("seed")
def demo_seed() -> None:
    """Load 大栗港镇 with its generated roster into an empty database."""
    town_name = load_demo_config().town
    with open_database() as engine:
        with read_session(engine) as session:
            if find_places(session, town_name):
                click.echo(f"{town_name} 已经在数据库里了，没有重复生成。")
                return
            if not database_is_empty(session):
                raise click.ClickException("数据库里已有别的名册；演示镇只装进空数据库。")
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
    neighbours = sum(len(people) for people in demo_town.neighbour_heads.values())
    return (
        f"已生成演示镇 {demo_town.town.name}：{len(demo_town.zones)} 个片区，"
        f"{len(demo_town.villages)} 个村，{len(demo_town.groups)} 个组，{neighbours} 名邻长，"
        f"共 {len(demo_town.people)} 人；{len(demo_town.units)} 个站所。"
        f"调度员企业微信账号 {demo_town.dispatcher.wecom_userid}。"
    )
