"""`grievance-bot parse [FILE]`: the parser on JSON lines, the contract of ../shared/eval/."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from bot import texts as bot_texts
from config.settings import get_settings
from config.taxonomy import load_taxonomy
from handlers.intake import village_names
from handlers.parser import GrievanceParser
from models.db import make_engine, read_session

DEMO_TOWN_FILE = Path(__file__).resolve().parents[1] / "config" / "demo_town.toml"


def roster_villages() -> tuple[str, ...]:
    """The roster's villages, or the demo town's when the database has none (or is not there)."""
    settings = get_settings()
    try:
        engine = make_engine(settings.resolved_database_url)
        with read_session(engine) as session:
            names = village_names(session)
        engine.dispose()
    except SQLAlchemyError:
        names = ()
    if names:
        return names
    data = tomllib.loads(DEMO_TOWN_FILE.read_text(encoding="utf-8"))
    return tuple(v["name"] for zone in data["zones"] for v in zone["villages"])


def parse_line(parser: GrievanceParser, line: str, explain: bool = False) -> dict[str, Any]:
    """One output object for one input line; bad input gets an `error` instead of a guess.

    With `explain`, also how sure the parser is: each field's confidence, the fields it is
    unsure of, their candidates best first, and the one the bot would ask about.
    """
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"not JSON: {exc.msg} at column {exc.colno}"}
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return {"error": "each line must be an object with a string `text`"}
    group = item.get("reporter_group")
    if group is not None and not isinstance(group, int):
        return {"id": item.get("id"), "error": "`reporter_group` must be a whole number"}
    result = parser.parse(item["text"], item.get("reporter_village"), group)
    out: dict[str, Any] = {"id": item["id"]} if "id" in item else {}
    out.update(
        is_grievance=result.is_grievance,
        category=result.category,
        village=result.village,
        group=result.group,
        urgent=result.urgent,
        households=result.households,
    )
    if explain:
        out.update(
            confidence={"category": result.confidence, "village": result.village_confidence},
            unsure=list(result.unsure_fields),
            choices={field: list(result.choices(field)) for field in result.unsure_fields},
            asks=result.ask_fields[0] if result.ask_fields else None,
        )
    return out


@click.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--explain", is_flag=True, help=bot_texts.PARSE_HELP_EXPLAIN)
def parse(source: IO[str], explain: bool) -> None:
    """Parse JSON lines (text, reporter_village, reporter_group) from FILE or stdin."""
    try:
        taxonomy = load_taxonomy(get_settings().taxonomy_file)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the taxonomy: {exc}") from exc
    parser = GrievanceParser(taxonomy, roster_villages())
    errors = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        out = parse_line(parser, line, explain)
        if "error" in out:
            errors += 1
            click.echo(f"line {number}: {out['error']}", err=True)
        click.echo(json.dumps(out, ensure_ascii=False))
    if errors:
        sys.exit(1)
