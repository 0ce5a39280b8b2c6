"""The headline sentence in the town's own style, and rates written as the town writes them."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from config.figures import RATE_NAMES, FiguresConfig, load_figures_config
from models import texts
from models.figures.counts import COUNT_NAMES, Report
from models.place import PLACE_KIND_NAMES, PlaceKind


class _Day(date):
    """A date whose format also understands %-m and %-d (no leading zero) on every platform."""

    def __format__(self, spec: str) -> str:
        if not spec:
            return texts.DAY.format(year=self.year, month=self.month, day=self.day)
        spec = spec.replace("%-m", str(self.month)).replace("%-d", str(self.day))
        return self.strftime(spec)


def _day(value: date) -> _Day:
    return _Day(value.year, value.month, value.day)


def format_percent(parts: tuple[int, int] | None, decimals: int = 1, trim: bool = True) -> str:
    """A rate as the town writes it: 99.5%, 100%; a dash when there is nothing to divide."""
    # Tables pass trim=False, so that a column reads 97.0% beside 96.5%.
    if parts is None:
        return "—"
    exact = Decimal(parts[0] * 100) / Decimal(parts[1])
    shown = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text_value = f"{shown:f}"
    if trim and "." in text_value and not shown % 1:
        text_value = text_value.split(".")[0]  # 100.0% reads as 100%
    return f"{text_value}%"


def headline_fields(report: Report, config: FiguresConfig | None = None) -> dict[str, Any]:
    """Every field the headline template may use."""
    config = config or load_figures_config()
    figures = report.overall
    values: dict[str, Any] = {
        "as_of": _day(report.scope.as_of_day),
        "start": _day(report.scope.first_day),
        "end": _day(report.scope.last_day),
        "place": report.place_name,
        "unit": PLACE_KIND_NAMES.get(PlaceKind(report.place_kind), texts.DEFAULT_PLACE_UNIT),
        "neighbour_heads": figures.neighbour_heads or 0,
        "reporters": figures.reporters or 0,
        "median_hours": (
            "—"
            if figures.median_hours_to_resolve is None
            else f"{figures.median_hours_to_resolve:.1f}"
        ),
        "score": "—" if figures.score(config.weights) is None else figures.score(config.weights),
    }
    for name in COUNT_NAMES:
        values[name] = getattr(figures, name)
    for name in RATE_NAMES:
        values[name] = format_percent(figures.fraction(name), config.percent_decimals)
    return values


def headline(report: Report, config: FiguresConfig | None = None) -> str:
    """The town's sentence, e.g. 截至2026年9月30日，我镇1038名邻长收集到……解决率99.5%。"""
    config = config or load_figures_config()
    try:
        return config.headline.format(**headline_fields(report, config))
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"the headline template in the figures file is wrong: {exc}") from exc
