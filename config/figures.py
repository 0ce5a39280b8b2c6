"""Report settings: the headline sentence, the composite score's weights, labels, category names.

The values live in ``figures.toml`` beside this module; this module reads and validates them. It
imports nothing of the project outside ``config``. Category names are not in this file: they come
from the office's taxonomy (GRIEVANCE_TAXONOMY_FILE), the same one the chat replies use, given by
whoever loads the config (config/office.py).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.taxonomy import Taxonomy

DEFAULT_PATH = Path(__file__).with_name("figures.toml")

# The rates the composite score may weigh; the two "lower is better" ones count as (1 - rate).
RATE_NAMES: tuple[str, ...] = (
    "resolution_rate",
    "response_rate",
    "on_time_rate",
    "satisfaction_rate",
    "reopen_rate",
    "return_rate",
    "participation_rate",
)
LOWER_IS_BETTER = frozenset({"reopen_rate", "return_rate"})
LABEL_NAMES: tuple[str, ...] = ("no_village", "no_zone", "no_category", "no_assignee")

DEFAULT_HEADLINE = (
    "截至{as_of:%Y年%-m月%-d日}，我{unit}{neighbour_heads}名邻长收集到群众“急难愁盼”民生问题"
    "{collected}件，已解决{resolved}件，解决率{resolution_rate}。"
)
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "resolution_rate": 0.30,
        "response_rate": 0.15,
        "on_time_rate": 0.20,
        "satisfaction_rate": 0.25,
        "reopen_rate": 0.05,
        "return_rate": 0.05,
        "participation_rate": 0.0,
    }
)
DEFAULT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "no_village": "（未定村）",
        "no_zone": "（不在片区）",
        "no_category": "（未分类）",
        "no_assignee": "（未派单）",
    }
)


class FiguresConfigError(ValueError):
    """The figures file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class FiguresConfig:
    """Everything a report needs besides the data."""

    headline: str = DEFAULT_HEADLINE
    percent_decimals: int = 1
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    labels: Mapping[str, str] = field(default_factory=lambda: DEFAULT_LABELS)
    category_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # PostgreSQL: a read-only report computes its medians on a second connection meanwhile
    # (models/figures/beside.py has the measurement). SQLite always uses one connection.
    second_connection: bool = True

    def category_name(self, code: str) -> str:
        """The display name of a category code, or the code when the taxonomy does not know it."""
        return self.category_names.get(code, code)


def load_figures_config(
    path: Path | None = None, *, taxonomy: Taxonomy | None = None
) -> FiguresConfig:
    """Read and validate a figures file (the default one beside this module when `path` is None).

    Category names come from `taxonomy`, the office's; without one a report shows the codes.
    """
    source = path or DEFAULT_PATH
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise FiguresConfigError(f"{source}: not valid TOML: {exc}") from exc
    names = {c.code: c.name for c in taxonomy.categories} if taxonomy is not None else {}
    return parse_figures_config(data, where=str(source), category_names=names)


def parse_figures_config(
    data: Mapping[str, Any],
    where: str = "figures",
    category_names: Mapping[str, str] | None = None,
) -> FiguresConfig:
    """Validate an already-decoded figures document and build the FiguresConfig."""
    known = {"headline", "percent_decimals", "second_connection", "score", "labels"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FiguresConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    headline = data.get("headline", DEFAULT_HEADLINE)
    if not isinstance(headline, str) or not headline.strip():
        raise FiguresConfigError(f"{where}: headline must be a non-empty string")
    decimals = data.get("percent_decimals", 1)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 4:
        raise FiguresConfigError(f"{where}: percent_decimals must be a whole number from 0 to 4")
    second_connection = data.get("second_connection", True)
    if not isinstance(second_connection, bool):
        raise FiguresConfigError(f"{where}: second_connection must be true or false")
    return FiguresConfig(
        headline=headline,
        percent_decimals=decimals,
        second_connection=second_connection,
        weights=MappingProxyType(_weights(data.get("score", {}), f"{where}: [score]")),
        labels=MappingProxyType(_labels(data.get("labels", {}), f"{where}: [labels]")),
        category_names=MappingProxyType(dict(category_names or {})),
    )


def _weights(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise FiguresConfigError(f"{where}: must be a table")
    unknown = sorted(set(raw) - set(RATE_NAMES))
    if unknown:
        raise FiguresConfigError(
            f"{where}: unknown rate(s) {', '.join(unknown)}; known: {', '.join(RATE_NAMES)}"
        )
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in raw.items():
        # bool is an int subclass; `true` as a weight is certainly a typo.
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise FiguresConfigError(f"{where}: {name} must be a number ≥ 0, got {value!r}")
        weights[name] = float(value)
    if not any(weights.values()):
        raise FiguresConfigError(f"{where}: at least one weight must be above 0")
    return weights


def _labels(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise FiguresConfigError(f"{where}: must be a table")
    unknown = sorted(set(raw) - set(LABEL_NAMES))
    if unknown:
        raise FiguresConfigError(f"{where}: unknown label(s) {', '.join(unknown)}")
    labels = dict(DEFAULT_LABELS)
    for name, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise FiguresConfigError(f"{where}: {name} must be a non-empty string")
        labels[name] = value
    return labels
