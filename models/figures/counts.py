"""The figures of one scope or one group: counts, the rates made from them, the score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from config.figures import LOWER_IS_BETTER, RATE_NAMES, load_figures_config
from models.figures.scope import Scope


@dataclass(frozen=True)
class Figures:
    """The counts of one scope or one group, and the rates made from them."""

    collected: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    ack_due: int = 0
    acknowledged_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    resolutions: int = 0
    reopened: int = 0
    assigned: int = 0
    returned: int = 0
    overdue: int = 0
    median_hours_to_resolve: float | None = None
    reporters: int | None = None
    neighbour_heads: int | None = None

    def fraction(self, rate: str) -> tuple[int, int] | None:
        """A rate as (numerator, denominator), or None when it has no denominator."""
        parts = {
            "resolution_rate": (self.resolved, self.collected),
            "response_rate": (self.acknowledged_on_time, self.ack_due),
            "on_time_rate": (self.resolved_on_time, self.resolved),
            "satisfaction_rate": (self.satisfied, self.rated),
            "reopen_rate": (self.reopened, self.resolutions),
            "return_rate": (self.returned, self.assigned),
            "participation_rate": (self.reporters or 0, self.neighbour_heads or 0),
        }[rate]
        return parts if parts[1] else None

    def rate(self, name: str) -> float | None:
        """A rate between 0 and 1, or None when there is nothing to divide by."""
        parts = self.fraction(name)
        return None if parts is None else parts[0] / parts[1]

    @property
    def resolution_rate(self) -> float | None:
        """解决率."""
        return self.rate("resolution_rate")

    @property
    def response_rate(self) -> float | None:
        """响应率."""
        return self.rate("response_rate")

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率."""
        return self.rate("on_time_rate")

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率."""
        return self.rate("satisfaction_rate")

    @property
    def reopen_rate(self) -> float | None:
        """重办率."""
        return self.rate("reopen_rate")

    @property
    def return_rate(self) -> float | None:
        """退单率."""
        return self.rate("return_rate")

    @property
    def participation_rate(self) -> float | None:
        """参与率."""
        return self.rate("participation_rate")

    def score(self, weights: Mapping[str, float] | None = None) -> float | None:
        """The composite score out of 100, or None when no weighted rate has data."""
        weights = weights if weights is not None else load_figures_config().weights
        total = weight_sum = Fraction(0)
        for name in RATE_NAMES:
            weight = Fraction(weights.get(name, 0.0))
            parts = self.fraction(name)
            if not weight or parts is None:
                continue
            value = Fraction(*parts)
            total += weight * (1 - value if name in LOWER_IS_BETTER else value)
            weight_sum += weight
        if not weight_sum:
            return None
        return float(round(total / weight_sum * 100, 1))

    def as_dict(self, weights: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Counts, rates (0 to 1, or None) and score, for JSON."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.median_hours_to_resolve is not None:
            data["median_hours_to_resolve"] = round(self.median_hours_to_resolve, 2)
        for name in RATE_NAMES:
            value = self.rate(name)
            data[name] = None if value is None else round(value, 4)
        data["score"] = self.score(weights)
        return data


COUNT_NAMES: tuple[str, ...] = tuple(
    f.name
    for f in fields(Figures)
    if f.name not in {"median_hours_to_resolve", "reporters", "neighbour_heads"}
)


@dataclass(frozen=True)
class Report:
    """The overall figures of a scope and the breakdowns asked for, in display order."""

    scope: Scope
    place_name: str
    place_kind: str
    overall: Figures
    breakdowns: dict[str, list[tuple[str, Figures]]] = field(default_factory=dict)
