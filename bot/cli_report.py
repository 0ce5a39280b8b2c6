"""`grievance-bot report`: the headline, the rates and a breakdown; JSON; the 台账 as xlsx."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import click
from sqlmodel import Session

from bot import texts as cli_texts
from config.figures import LOWER_IS_BETTER, RATE_NAMES, FiguresConfig
from config.office import load_office
from config.settings import get_settings
from handlers import texts
from models.base import utcnow
from models.db import make_engine, read_session
from models.figures import (
    BREAKDOWN_KEYS,
    PLACE_KEYS,
    SHANGHAI,
    Figures,
    Report,
    Scope,
    compute_report,
    format_percent,
    headline,
    headline_fields,
    period_scope,
)
from models.figures.ledger import LEDGER_TIMES, LedgerLookups, ledger_tickets
from models.migrate import upgrade
from models.place import Place, PlaceKind, ancestors, find_places
from models.roster import group_place_name
from models.sheets import Figure, XlsxBook
from models.ticket import STATE_NAMES, TicketState

# The breakdown table's columns after the name, in order; place breakdowns add participation.
TABLE_COLUMNS = (
    "collected",
    "resolved",
    "resolution_rate",
    "response_rate",
    "on_time_rate",
    "satisfaction_rate",
    "reopen_rate",
    "return_rate",
    "overdue",
    "median_hours_to_resolve",
)
PLACE_COLUMNS = ("reporters", "neighbour_heads", "participation_rate")


@click.command("report")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help=cli_texts.REPORT_HELP_FROM)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help=cli_texts.REPORT_HELP_TO)
@click.option("--place", "place_name", help=cli_texts.REPORT_HELP_PLACE)
@click.option(
    "--by",
    type=click.Choice(BREAKDOWN_KEYS),
    default="village",
    show_default=True,
    help=cli_texts.REPORT_HELP_BY,
)
@click.option("--json", "as_json", is_flag=True, help=cli_texts.REPORT_HELP_JSON)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help=cli_texts.REPORT_HELP_XLSX,
)
def report(
    first: datetime | None,
    last: datetime | None,
    place_name: str | None,
    by: str,
    as_json: bool,
    xlsx_path: Path | None,
) -> None:
    """The town's figures for a period and a place: headline, rates, a table by BY; the 台账."""
    settings = get_settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        # Category names from the office's taxonomy, the one chat replies and the digest use.
        config = load_office(settings).figures
        with read_session(engine) as session:
            place = _find_place(session, place_name) if place_name else None
            try:
                scope = period_scope(
                    first.date() if first else None,
                    last.date() if last else None,
                    now=utcnow(),
                    place=place,
                )
            except ValueError as exc:
                raise click.ClickException(texts.REPORT_BAD_PERIOD) from exc
            key = cast(Any, by)
            result = compute_report(session, scope, by=(key,), config=config)
            if as_json:
                click.echo(json.dumps(_as_json(result, by, config), ensure_ascii=False, indent=2))
            else:
                click.echo(_as_text(result, by, config))
            if xlsx_path is not None:
                rows, merged = write_xlsx(xlsx_path, session, result, by, config)
                if not as_json:
                    click.echo(
                        texts.REPORT_XLSX_WRITTEN.format(path=xlsx_path, rows=rows, merged=merged)
                    )
    finally:
        engine.dispose()


def _find_place(session: Session, name: str) -> Place:
    """The place named NAME, or ANCESTOR/…/NAME when the name alone is not unique."""
    # A full-width solidus, as Chinese input methods type it, separates as well.
    parts = [part for part in name.replace("\uff0f", "/").split("/") if part.strip()]
    candidates = find_places(session, parts[-1].strip())
    if len(parts) > 1:
        wanted = [part.strip() for part in parts[:-1]]
        candidates = [
            place
            for place in candidates
            if _follows(wanted, [p.name for p in reversed(ancestors(session, place)[1:])])
        ]
    if not candidates:
        raise click.ClickException(texts.REPORT_UNKNOWN_PLACE.format(name=name))
    if len(candidates) > 1:
        choices = [_qualified(session, place) for place in candidates]
        if len(set(choices)) < len(choices):
            choices = [
                "/".join(p.name for p in reversed(ancestors(session, c))) for c in candidates
            ]
        raise click.ClickException(
            texts.REPORT_AMBIGUOUS_PLACE.format(
                name=name, choices=cli_texts.LIST_JOIN.join(choices), example=choices[-1]
            )
        )
    return candidates[0]


def _qualified(session: Session, place: Place) -> str:
    """The place with its town in front, as a clerk would tell two namesakes apart."""
    chain = ancestors(session, place)[1:]
    town = next((p for p in chain if p.kind == PlaceKind.town.value), chain[0] if chain else None)
    return f"{town.name}/{place.name}" if town else place.name


def _follows(wanted: Sequence[str], chain: Sequence[str]) -> bool:
    """Whether the names `wanted` appear in `chain` (the ancestors, top first) in order."""
    names = iter(chain)
    return all(any(name == found for found in names) for name in wanted)


# ---------------------------------------------------------------- text


def display_width(value: str) -> int:
    """Columns a string takes in a terminal: CJK and full-width characters take two."""
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in value
    )


def _pad(value: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - display_width(value))
    return gap + value if right else value + gap


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns: the first left-aligned, the figures right-aligned, CJK counted as two."""
    widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [_pad(cell, widths[i], right=i > 0) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _cell(figures: Figures, name: str, config: FiguresConfig) -> str:
    if name in RATE_NAMES:
        return format_percent(figures.fraction(name), config.percent_decimals, trim=False)
    if name == "median_hours_to_resolve":
        value = figures.median_hours_to_resolve
        return "—" if value is None else f"{value:.1f}"
    if name == "score":
        score = figures.score(config.weights)
        return "—" if score is None else f"{score:.1f}"
    value = getattr(figures, name)
    return "—" if value is None else str(value)


def _columns(by: str) -> tuple[str, ...]:
    return TABLE_COLUMNS + (PLACE_COLUMNS if by in PLACE_KEYS else ()) + ("score",)


def _as_text(result: Report, by: str, config: FiguresConfig) -> str:
    fields = headline_fields(result, config)
    lines = [
        headline(result, config),
        "",
        texts.REPORT_SCOPE.format(
            start=fields["start"],
            end=fields["end"],
            as_of=_as_of_text(result),
            place=result.place_name or "—",
        ),
        texts.REPORT_TOTALS.format(**fields),
        texts.REPORT_RATES.format(**fields),
        texts.REPORT_MORE.format(**fields),
        "",
        texts.REPORT_BY_TITLE[by],
    ]
    columns = _columns(by)
    header = [texts.REPORT_KEY_COLUMN[by], *(texts.REPORT_COLUMNS[c] for c in columns)]
    rows = [
        [label, *(_cell(figures, c, config) for c in columns)]
        for label, figures in result.breakdowns[by]
    ]
    rows.append([texts.REPORT_TOTAL_ROW, *(_cell(result.overall, c, config) for c in columns)])
    lines.append(format_table(header, rows))
    return "\n".join(lines)


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _as_of_text(result: Report) -> str:
    """截至 2025年12月31日 for a whole day; with the time when the figures run to now."""
    local = result.scope.as_of.astimezone(SHANGHAI)
    day = headline_fields(result)["as_of"]
    return f"{day}" if (local.hour, local.minute) == (0, 0) else f"{day} {local:%H:%M}"


# ---------------------------------------------------------------- JSON


def _as_json(result: Report, by: str, config: FiguresConfig) -> dict[str, Any]:
    scope = result.scope
    return {
        "period": {
            "from": scope.first_day.isoformat(),
            "to": scope.last_day.isoformat(),
            "start": scope.start.isoformat(),
            "end": scope.end.isoformat(),
            "as_of": scope.as_of.isoformat(),
        },
        "place": result.place_name,
        "headline": headline(result, config),
        "overall": result.overall.as_dict(config.weights),
        "by": by,
        "breakdown": [
            {"name": label, **figures.as_dict(config.weights)}
            for label, figures in result.breakdowns[by]
        ],
    }


# ---------------------------------------------------------------- xlsx


def mask_phone(phone: str | None) -> str:
    """138****0000: the first three and last four digits of a phone number."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def write_xlsx(
    path: Path, session: Session, result: Report, by: str, config: FiguresConfig
) -> tuple[int, int]:
    """The summary sheet and the 台账 (one row per collected or merged ticket).

    Returns the ledger's rows and how many of them are duplicates merged into another ticket.
    """
    book = XlsxBook()
    _summary_sheet(book, result, by, config)
    rows, merged = _ledger_sheet(book, session, result.scope, config)
    book.save(path)
    return rows, merged


def _summary_sheet(book: XlsxBook, result: Report, by: str, config: FiguresConfig) -> None:
    columns = _columns(by)
    widths = [max(14, display_width(texts.REPORT_KEY_COLUMN[by]) + 2)] + [
        max(8, display_width(texts.REPORT_COLUMNS[c]) + 2) for c in columns
    ]
    # The headline, the scope, a gap and the column titles stay in view.
    sheet = book.sheet(texts.REPORT_SUMMARY_SHEET, widths, freeze="B5")
    fields = headline_fields(result, config)
    sheet.row([headline(result, config)])
    sheet.row(
        [
            texts.REPORT_SCOPE.format(
                start=fields["start"],
                end=fields["end"],
                as_of=_as_of_text(result),
                place=result.place_name or "—",
            )
        ]
    )
    sheet.row([])
    sheet.header([texts.REPORT_KEY_COLUMN[by], *(texts.REPORT_COLUMNS[c] for c in columns)])
    for label, figures in [*result.breakdowns[by], (texts.REPORT_TOTAL_ROW, result.overall)]:
        sheet.row([label, *(_summary_value(figures, c, config) for c in columns)])
    sheet.row([])
    sheet.header([texts.REPORT_DEFINITIONS_TITLE])
    for definition in texts.REPORT_DEFINITIONS.values():
        sheet.row([definition])
    sheet.row([])
    sheet.header([texts.REPORT_SCORE_TITLE])
    for line in score_explanation(config):
        sheet.row([line])


def score_explanation(config: FiguresConfig) -> list[str]:
    """How the 综合得分 is made, with the weights of the figures file, in the office's words."""
    weighted = [(name, config.weights.get(name, 0.0)) for name in RATE_NAMES]
    weighted = [(name, weight) for name, weight in weighted if weight > 0]
    terms = " + ".join(
        (
            texts.REPORT_SCORE_TERM_LOWER if name in LOWER_IS_BETTER else texts.REPORT_SCORE_TERM
        ).format(rate=texts.REPORT_COLUMNS[name], weight=f"{weight:g}")
        for name, weight in weighted
    )
    total = f"{sum(weight for _, weight in weighted):g}"
    formula = texts.REPORT_SCORE_FORMULA.format(terms=terms, total=total)
    return [formula, *(note.format(total=total) for note in texts.REPORT_SCORE_NOTES)]


def _summary_value(figures: Figures, name: str, config: FiguresConfig) -> Any:
    if name in RATE_NAMES:
        # A number formatted as a percentage, so the clerk's own sums still work.
        value = figures.rate(name)
        if value is None:
            return None
        return Figure(
            value, "0." + "0" * config.percent_decimals + "%" if config.percent_decimals else "0%"
        )
    if name == "median_hours_to_resolve":
        hours = figures.median_hours_to_resolve
        return None if hours is None else round(hours, 1)
    if name == "score":
        return figures.score(config.weights)
    return getattr(figures, name)


def _ledger_sheet(
    book: XlsxBook, session: Session, scope: Scope, config: FiguresConfig
) -> tuple[int, int]:
    widths = [width for _, _, width in texts.LEDGER_COLUMNS]
    sheet = book.sheet(texts.REPORT_LEDGER_SHEET, widths, freeze="A2")
    sheet.header([title for _, title, _ in texts.LEDGER_COLUMNS])
    keys = [key for key, _, _ in texts.LEDGER_COLUMNS]
    count = merged = 0
    for row in ledger_rows(session, scope, config):
        # Summaries and results are what people typed: the writer keeps them text.
        sheet.row([row.get(key) for key in keys])
        count += 1
        merged += row["state"] == STATE_NAMES[TicketState.duplicate]
    return count, merged


def ledger_rows(session: Session, scope: Scope, config: FiguresConfig) -> Iterator[dict[str, Any]]:
    """One dict per collected or merged ticket of the scope, oldest first, streamed."""
    lookups = LedgerLookups.load(session.connection())
    places, names = lookups.places, lookups.people
    for row in ledger_tickets(session, scope):
        reporter = names.get(row.reporter_id) if row.reporter_id else None
        assignee = names.get(row.assignee_id) if row.assignee_id else None
        yield {
            "number": row.id,
            **{
                key: _local(getattr(row, key)) if getattr(row, key) else None
                for key in LEDGER_TIMES
            },
            "reporter": reporter[0] if reporter else None,
            "reporter_phone": mask_phone(reporter[1]) if reporter else None,
            "town": lookups.town_name(row.village_id or row.place_id),
            "village": places[row.village_id][0] if row.village_id in places else None,
            "group": group_place_name(row.group_number) if row.group_number else None,
            "category": config.category_name(row.category) if row.category else None,
            "urgency": texts.LEDGER_URGENCY[bool(row.urgent)],
            "summary": row.summary,
            "assignee": assignee[0] if assignee else None,
            "state": STATE_NAMES.get(TicketState(row.state), row.state),
            "duplicate_of": f"#{row.duplicate_of_id}"
            if row.state == TicketState.duplicate.value and row.duplicate_of_id
            else None,
            "result": row.result,
            "rating": texts.LEDGER_RATINGS.get(row.rating, row.rating) if row.rating else None,
            "reopen_count": row.reopen_count,
            "return_count": row.return_count,
        }
