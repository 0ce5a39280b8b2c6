"""Time limits (SLA), reminder and escalation settings, 回访 follow-up and the job schedule.

The values live in ``sla.toml`` beside this module (or the file named by GRIEVANCE_SLA_FILE);
this module reads and validates them. It imports nothing of the project.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

DEFAULT_PATH = Path(__file__).with_name("sla.toml")

Unit = Literal["minutes", "hours", "days", "working_days"]

_UNITS: dict[str, Unit] = {
    "minute": "minutes",
    "minutes": "minutes",
    "分钟": "minutes",
    "hour": "hours",
    "hours": "hours",
    "小时": "hours",
    "个小时": "hours",
    "day": "days",
    "days": "days",
    "天": "days",
    "日": "days",
    "working day": "working_days",
    "working days": "working_days",
    "工作日": "working_days",
    "个工作日": "working_days",
}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z\u4e00-\u9fff ]+?)\s*$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)\s+(\d{1,2}):(\d{2})\s*$")

_TOP_KEYS = {"limits", "categories", "extension", "reminder", "escalation", "followup", "schedule"}
_URGENCIES = ("urgent", "normal")


class SlaConfigError(ValueError):
    """The SLA file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Limit:
    """A length of time: clock minutes, hours or days, or working days of the official calendar."""

    amount: int
    unit: Unit

    @property
    def working(self) -> bool:
        """True when the limit counts working days rather than clock time."""
        return self.unit == "working_days"

    @property
    def clock(self) -> timedelta:
        """The clock length of a clock-time limit (working-day limits need a calendar)."""
        if self.working:
            raise ValueError("a working-day limit has no fixed clock length")
        return timedelta(**{self.unit: self.amount})

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Limits:
    """The acknowledge-by (签收) and resolve-by (办结) limits of one kind of ticket."""

    ack: Limit
    resolve: Limit


@dataclass(frozen=True)
class WeeklyTime:
    """A moment of the week, Asia/Shanghai: weekday 0 = Monday."""

    weekday: int
    hour: int
    minute: int

    def __str__(self) -> str:
        return f"{_WEEKDAYS[self.weekday]} {self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True)
class Schedule:
    """How often the sweeps run and when the weekly push goes out."""

    sla_sweep_minutes: int = 5
    rating_followup_minutes: int = 60
    weekly_digest: WeeklyTime = WeeklyTime(0, 8, 30)
    batch_size: int = 200


@dataclass(frozen=True)
class SlaConfig:
    """The whole validated SLA file."""

    urgent: Limits = Limits(Limit(2, "hours"), Limit(24, "hours"))
    normal: Limits = Limits(Limit(1, "working_days"), Limit(7, "working_days"))
    # category code -> urgency ("urgent"/"normal") -> limits replacing the defaults
    categories: dict[str, dict[str, Limits]] = field(default_factory=dict)
    extension_max_working_days: int = 15
    reminder_threshold: float = 0.75
    leader_after: Limit = Limit(1, "working_days")
    ask_again_after: Limit = Limit(2, "days")
    close_after: Limit = Limit(7, "days")
    schedule: Schedule = Schedule()

    def limits_for(self, urgent: bool, category: str | None) -> Limits:
        """The limits of a ticket of this urgency and category."""
        urgency = "urgent" if urgent else "normal"
        by_category = self.categories.get(category or "", {})
        return by_category.get(urgency, self.urgent if urgent else self.normal)


def parse_limit(text: str, *, where: str = "duration") -> Limit:
    """Read "2 hours", "7 working days", "2天", "7个工作日" and the like."""
    match = _DURATION.match(text.lower()) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(2).strip()) if match else None
    if match is None or unit is None:
        raise SlaConfigError(
            f"{where}: {text!r} is not a duration such as '2 hours', '7 working days' or '2天'"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise SlaConfigError(f"{where}: {text!r} must be longer than zero")
    return Limit(amount, unit)


def parse_weekly(text: str, *, where: str = "weekly") -> WeeklyTime:
    """Read "mon 08:30" (a weekday and a time of day)."""
    match = _WEEKLY.match(text.lower()) if isinstance(text, str) else None
    if match is None:
        raise SlaConfigError(f"{where}: {text!r} is not a weekly time such as 'mon 08:30'")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise SlaConfigError(f"{where}: {text!r} is not a time of day")
    return WeeklyTime(_WEEKDAYS.index(match.group(1)), hour, minute)


def _sweep_minutes(text: str, where: str) -> int:
    limit = parse_limit(text, where=where)
    if limit.unit not in ("minutes", "hours"):
        raise SlaConfigError(f"{where}: {text!r} must be in minutes or hours")
    minutes = int(limit.clock.total_seconds() // 60)
    # Slots must line up across processes, so they are fixed positions on the clock.
    if not (60 % minutes == 0 or (minutes % 60 == 0 and 1440 % minutes == 0)):
        raise SlaConfigError(
            f"{where}: {text!r} must divide an hour (e.g. 5 minutes) or a day (e.g. 6 hours)"
        )
    return minutes


def _table(data: dict[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SlaConfigError(f"{where}: [{key}] must be a table")
    unknown = set(value) - allowed
    if unknown:
        raise SlaConfigError(f"{where}: unknown keys in [{key}]: {', '.join(sorted(unknown))}")
    return value


def _limits(table: dict[str, Any], base: Limits, where: str) -> Limits:
    unknown = set(table) - {"ack", "resolve"}
    if unknown:
        raise SlaConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    result = base
    for key in ("ack", "resolve"):
        if key in table:
            result = replace(result, **{key: parse_limit(table[key], where=f"{where}.{key}")})
    if result.ack.working == result.resolve.working and _longer(result.ack, result.resolve):
        raise SlaConfigError(f"{where}: ack ({result.ack}) is longer than resolve")
    return result


def _longer(a: Limit, b: Limit) -> bool:
    if a.working:
        return a.amount > b.amount
    return a.clock > b.clock


def parse_sla(data: dict[str, Any], source: str = "sla.toml") -> SlaConfig:
    """Validate a parsed SLA file; unknown keys are refused so that typos do not go unnoticed."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SlaConfigError(f"{source}: unknown sections {', '.join(sorted(unknown))}")
    defaults = SlaConfig()
    limits = _table(data, "limits", set(_URGENCIES), source)
    urgent = _limits(limits.get("urgent", {}), defaults.urgent, f"{source}: limits.urgent")
    normal = _limits(limits.get("normal", {}), defaults.normal, f"{source}: limits.normal")

    categories: dict[str, dict[str, Limits]] = {}
    raw_categories = data.get("categories", {})
    if not isinstance(raw_categories, dict):
        raise SlaConfigError(f"{source}: [categories] must be a table")
    for code, by_urgency in raw_categories.items():
        if not isinstance(by_urgency, dict) or set(by_urgency) - set(_URGENCIES):
            raise SlaConfigError(
                f"{source}: categories.{code} must hold [categories.{code}.urgent] "
                f"and/or [categories.{code}.normal]"
            )
        categories[code] = {
            urgency: _limits(
                table, urgent if urgency == "urgent" else normal, f"{source}: categories.{code}"
            )
            for urgency, table in by_urgency.items()
        }

    extension = _table(data, "extension", {"max_working_days"}, source)
    max_days = extension.get("max_working_days", defaults.extension_max_working_days)
    if not isinstance(max_days, int) or max_days < 1:
        raise SlaConfigError(f"{source}: extension.max_working_days must be a whole number ≥ 1")

    reminder = _table(data, "reminder", {"threshold"}, source)
    threshold = reminder.get("threshold", defaults.reminder_threshold)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise SlaConfigError(f"{source}: reminder.threshold must lie between 0 and 1")

    escalation = _table(data, "escalation", {"leader_after"}, source)
    followup = _table(data, "followup", {"ask_again_after", "close_after"}, source)
    schedule = _table(
        data,
        "schedule",
        {"sla_sweep_every", "rating_followup_every", "weekly_digest", "batch_size"},
        source,
    )

    def limit(table: dict[str, Any], key: str, default: Limit, section: str) -> Limit:
        if key not in table:
            return default
        return parse_limit(table[key], where=f"{source}: {section}.{key}")

    ask_again = limit(followup, "ask_again_after", defaults.ask_again_after, "followup")
    close = limit(followup, "close_after", defaults.close_after, "followup")
    if ask_again.working or close.working:
        raise SlaConfigError(f"{source}: followup durations count clock time, not working days")
    if ask_again.clock >= close.clock:
        raise SlaConfigError(f"{source}: followup.ask_again_after must be before close_after")

    batch_size = schedule.get("batch_size", defaults.schedule.batch_size)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SlaConfigError(f"{source}: schedule.batch_size must be a whole number ≥ 1")
    every = defaults.schedule
    return SlaConfig(
        urgent=urgent,
        normal=normal,
        categories=categories,
        extension_max_working_days=max_days,
        reminder_threshold=float(threshold),
        leader_after=limit(escalation, "leader_after", defaults.leader_after, "escalation"),
        ask_again_after=ask_again,
        close_after=close,
        schedule=Schedule(
            sla_sweep_minutes=_sweep_minutes(
                schedule["sla_sweep_every"], f"{source}: schedule.sla_sweep_every"
            )
            if "sla_sweep_every" in schedule
            else every.sla_sweep_minutes,
            rating_followup_minutes=_sweep_minutes(
                schedule["rating_followup_every"], f"{source}: schedule.rating_followup_every"
            )
            if "rating_followup_every" in schedule
            else every.rating_followup_minutes,
            weekly_digest=parse_weekly(
                schedule["weekly_digest"], where=f"{source}: schedule.weekly_digest"
            )
            if "weekly_digest" in schedule
            else every.weekly_digest,
            batch_size=batch_size,
        ),
    )


def load_sla(path: Path | None = None) -> SlaConfig:
    """Read and validate an SLA file (the default one beside this module when `path` is None).

    Read once by whoever builds an app, a worker or a command (config.office), never per call.
    """
    path = path or DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SlaConfigError(f"{path}: {exc}") from exc
    return parse_sla(data, str(path))
