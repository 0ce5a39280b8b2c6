"""The figures page: the same numbers as `grievance-bot report --json`, drawn as charts.

Only dispatchers, leaders and admins see it, and only for their own place's subtree (an admin
for any place); the period, place and breakdown are the report's own options.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, abort, g, render_template, request, send_file
from sqlmodel import col, select

from bot.cli_report import _as_json, _cell, _columns, write_xlsx
from handlers import texts as chat_texts
from models.db import read_session
from models.figures import BREAKDOWN_KEYS, Figures, Report, Scope, compute_report, period_scope
from models.person import Role, roles_of
from models.place import Place, PlaceKind
from models.trend import Week, weekly_trend
from web import texts
from web.identity import check_csrf, engine, grievance, now, signed_in

blueprint = Blueprint("web_figures", __name__, template_folder="templates")
blueprint.before_request(check_csrf)
FIGURE_ROLES = frozenset({Role.dispatcher, Role.leader, Role.admin})
PLACE_CHOICE_KINDS = (PlaceKind.county, PlaceKind.town, PlaceKind.zone, PlaceKind.village)
ECHARTS = Path(__file__).parent / "node_modules" / "echarts" / "dist" / "echarts.min.js"
RANKED = 3  # rows on each of the 红榜 and 黑榜


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _allowed_places() -> tuple[Place | None, list[Place]]:
    """The person's own place (None for an admin: everywhere) and the places they may pick."""
    admin = Role.admin in roles_of(g.db, g.person.id)
    own = None if admin else g.db.get(Place, g.person.place_id)
    stmt = select(Place).where(col(Place.kind).in_([k.value for k in PLACE_CHOICE_KINDS]))
    if own is not None:
        stmt = stmt.where(col(Place.path).startswith(own.path))
    return own, list(g.db.exec(stmt.order_by(col(Place.path))))


def _trend_beside(scope: Scope) -> tuple[ThreadPoolExecutor, Future[list[Week]]]:
    """The weekly trend, counted on a second connection while the report runs on the first
    (each is one pass over the period's tickets; SQLite and PostgreSQL both read in parallel)."""
    if scope.place is not None:  # a detached copy: the thread must not touch the request's session
        place = scope.place
        scope = replace(
            scope, place=Place(id=place.id, name=place.name, kind=place.kind, path=place.path)
        )
    bind = engine()

    def count() -> list[Week]:
        with read_session(bind) as db:
            return weekly_trend(db, scope)

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trend")
    return executor, executor.submit(count)


def _report(trend: bool = False) -> tuple[Report, str, list[Place], Place | None, list[Week]]:
    if not roles_of(g.db, g.person.id) & FIGURE_ROLES:
        abort(403)
    own, places = _allowed_places()
    by = request.args.get("by") or "village"
    if by not in BREAKDOWN_KEYS:
        by = "village"
    wanted = request.args.get("place")
    place = own
    if wanted and wanted.isdigit():
        place = next((p for p in places if p.id == int(wanted)), None)
        if place is None:
            abort(403)
    try:
        scope = period_scope(
            _day(request.args.get("from")), _day(request.args.get("to")), now=now(), place=place
        )
    except ValueError:
        abort(400)
    office = grievance()["office"]
    if not trend:
        result = compute_report(g.db, scope, by=(cast(Any, by),), config=office.figures)
        return result, by, places, place, []
    executor, weeks = _trend_beside(scope)
    try:
        result = compute_report(g.db, scope, by=(cast(Any, by),), config=office.figures)
        return result, by, places, place, weeks.result()
    finally:
        executor.shutdown(wait=True)


def _table_row(
    label: str, fig: Figures, score: float | None, columns: tuple[str, ...], config: Any
) -> list[str]:
    """A table row; the score is the one the JSON already holds (computed once per row)."""
    cells = [
        ("—" if score is None else f"{score:.1f}") if c == "score" else _cell(fig, c, config)
        for c in columns
    ]
    return [label, *cells]


@blueprint.get("/figures")
@signed_in
def figures() -> Any:
    """Headline, rates, the breakdown as charts and a table, 红黑榜, and the 台账 link."""
    result, by, places, place, weeks = _report(trend=True)
    config = grievance()["office"].figures
    data = _as_json(result, by, config)
    columns = _columns(by)
    table = [
        _table_row(label, fig, row["score"], columns, config)
        for (label, fig), row in zip(result.breakdowns[by], data["breakdown"], strict=True)
    ]
    total = [chat_texts.REPORT_TOTAL_ROW, *(_cell(result.overall, c, config) for c in columns)]
    scored = [row for row in data["breakdown"] if row.get("score") is not None and row["collected"]]
    scored.sort(key=lambda row: row["score"], reverse=True)
    cards = [
        (chat_texts.REPORT_COLUMNS[name], _cell(result.overall, name, config))
        for name in texts.FIGURE_CARDS
    ]
    trend = [
        {
            "week": texts.TREND_WEEK.format(month=w.monday.month, day=w.monday.day),
            "collected": w.collected,
            "resolved": w.resolved,
        }
        for w in weeks
    ]
    chart = {
        "trend": trend,
        "none_overdue": texts.FIGURES_NONE_OVERDUE,
        "data": data,
        "labels": {name: chat_texts.REPORT_COLUMNS[name] for name in chat_texts.REPORT_COLUMNS},
    }
    return render_template(
        "figures.html",
        data=data,
        # Inside <script>: a name with "</script>" in it must not end the element.
        chart_json=json.dumps(chart, ensure_ascii=False).replace("<", "\\u003c"),
        header=[chat_texts.REPORT_KEY_COLUMN[by], *(chat_texts.REPORT_COLUMNS[c] for c in columns)],
        table=table,
        total=total,
        cards=cards,
        red=scored[:RANKED],
        black=list(reversed(scored[-RANKED:])) if len(scored) > RANKED else [],
        by=by,
        by_choices=[(key, chat_texts.REPORT_BY_TITLE[key]) for key in BREAKDOWN_KEYS],
        places=places,
        place=place,
        first=result.scope.first_day.isoformat(),
        last=result.scope.last_day.isoformat(),
        charts=ECHARTS.exists(),
        query=request.query_string.decode(),
    )


@blueprint.get("/figures/ledger.xlsx")
@signed_in
def ledger() -> Any:
    """The 台账 and summary for the same period and place, as `report --xlsx` writes them."""
    result, by, _, _, _ = _report()
    config = grievance()["office"].figures
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.xlsx"
        write_xlsx(path, g.db, result, by, config)
        content = path.read_bytes()
    return send_file(
        BytesIO(content),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"ledger-{result.scope.first_day}-{result.scope.last_day}.xlsx",
    )


@blueprint.get("/static/vendor/echarts.min.js")
def echarts() -> Any:
    """ECharts, installed from npm by the set-up (`npm ci --prefix web`), served by the app."""
    if not ECHARTS.exists():
        abort(404)
    return send_file(ECHARTS, mimetype="text/javascript", max_age=86400)
