"""The official working-day calendar: weekends, statutory holidays and 调休 make-up working days.

Three sources, in this order for any year: the office's holiday file (``holidays.toml`` beside this
module, or GRIEVANCE_HOLIDAYS_FILE) for the years it lists; the ``chinesecalendar`` package for the
years it knows; otherwise Monday to Friday, with a warning logged once per year, never an error.

Working time is counted as whole calendar days that are working days: on a working day the clock
runs from 00:00 to 24:00, on a day off it stands still. "N working days from t" is the moment when
N times 24 hours of working time have passed since t. From a moment on a working day that is the
same time of day on the N-th working day after it; from a moment on a day off the count starts at
00:00 of the next working day, so it ends at 24:00 of the N-th working day (00:00 of the day after).
"""

from __future__ import annotations

import logging
import threading
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_PATH = Path(__file__).with_name("holidays.toml")
DAY = timedelta(days=1)
# A calendar with no working day in ten years is a broken file, not a reason to loop forever.
_MAX_DAYS_SCANNED = 3660

log = logging.getLogger(__name__)


class HolidayFileError(ValueError):
    """The holiday file is malformed; the message names the file and the year."""


@dataclass(frozen=True)
class OfficeYear:
    """One year of the office's file: its extra days off and its make-up working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        """Working: a make-up day, or a weekday that is not a holiday."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


class WorkCalendar:
    """Tells working days apart and adds or measures working time; aware datetimes in and out."""

    def __init__(self, office_years: dict[int, OfficeYear] | None = None, *, package: bool = True):
        self._office = dict(office_years or {})
        self._package = package
        self._package_years: dict[int, bool] = {}
        self._warned: set[int] = set()
        # The sweep asks about the same few weeks every few minutes; the package is slow to ask.
        self._days: dict[date, bool] = {}
        self._lock = threading.Lock()

    def source(self, year: int) -> str:
        """Where a year's working days come from: "office", "package" or "fallback"."""
        if year in self._office:
            return "office"
        if self._package and self._package_knows(year):
            return "package"
        return "fallback"

    def _package_knows(self, year: int) -> bool:
        known = self._package_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 6, 1))
                known = True
            except NotImplementedError:
                known = False
            self._package_years[year] = known
        return known

    def is_working_day(self, day: date) -> bool:
        """True for a working day of the official calendar (as far as it is known)."""
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._look_up(day)
        return known

    def _look_up(self, day: date) -> bool:
        office = self._office.get(day.year)
        if office is not None:
            return office.is_working_day(day)
        if self._package and self._package_knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        self._warn_fallback(day.year)
        return day.weekday() < 5

    def _warn_fallback(self, year: int) -> None:
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        log.warning(
            "no holiday calendar for %d: counting Monday to Friday as working days; "
            "add the year's holidays and 调休 days to the holiday file (GRIEVANCE_HOLIDAYS_FILE)",
            year,
        )

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of working time after `start` (aware UTC out)."""
        if amount < timedelta(0):
            raise ValueError("working time to add must not be negative")
        current = _local(start)
        remaining = amount
        for _ in range(_MAX_DAYS_SCANNED):
            next_midnight = datetime.combine(current.date() + DAY, time(0), tzinfo=TIMEZONE)
            if self.is_working_day(current.date()):
                available = next_midnight - current
                if remaining <= available:
                    return (current + remaining).astimezone(UTC)
                remaining -= available
            current = next_midnight
        raise ValueError(f"no working days in the {_MAX_DAYS_SCANNED} days after {start}")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` working days after `start` (see the module docstring for the rule)."""
        return self.add_working_time(start, days * DAY)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two moments (zero when `end` is not later)."""
        current, stop = _local(start), _local(end)
        total = timedelta(0)
        while current < stop:
            next_midnight = datetime.combine(current.date() + DAY, time(0), tzinfo=TIMEZONE)
            piece_end = min(next_midnight, stop)
            if self.is_working_day(current.date()):
                total += piece_end - current
            current = piece_end
        return total


def deadline_clock(moment: datetime) -> tuple[int, int, int, int]:
    """(month, day, hour, minute) of a deadline in Asia/Shanghai as people read it: a deadline
    at midnight is 24:00 of the day it ends, not 00:00 of the next."""
    local = _local(moment)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        before = local - DAY
        return before.month, before.day, 24, 0
    return local.month, local.day, local.hour, local.minute


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the calendar")
    return moment.astimezone(TIMEZONE)


def _dates(value: Any, year: int, where: str) -> set[date]:
    if not isinstance(value, list):
        raise HolidayFileError(f"{where} must be a list of dates")
    result: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            first = last = item
        elif isinstance(item, str):
            first_text, _, last_text = item.partition("..")
            try:
                first = date.fromisoformat(first_text.strip())
                last = date.fromisoformat(last_text.strip()) if last_text else first
            except ValueError as exc:
                raise HolidayFileError(f"{where}: {item!r} is not a date or a range") from exc
        else:
            raise HolidayFileError(f"{where}: {item!r} is not a date or a range")
        if last < first:
            raise HolidayFileError(f"{where}: the range {item!r} ends before it starts")
        if first.year != year or last.year != year:
            raise HolidayFileError(f"{where}: {item!r} is not in {year}")
        day = first
        while day <= last:
            result.add(day)
            day += DAY
    return result


def parse_holidays(data: dict[str, Any], source: str = "holidays.toml") -> dict[int, OfficeYear]:
    """Validate a parsed holiday file into one OfficeYear per year."""
    years: dict[int, OfficeYear] = {}
    for key, table in data.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
            raise HolidayFileError(f"{source}: [{key}] is not a year such as [2027]")
        year = int(key)
        if not isinstance(table, dict) or set(table) - {"holidays", "workdays"}:
            raise HolidayFileError(f"{source}: [{key}] may hold only `holidays` and `workdays`")
        holidays = _dates(table.get("holidays", []), year, f"{source}: {key}.holidays")
        workdays = _dates(table.get("workdays", []), year, f"{source}: {key}.workdays")
        both = holidays & workdays
        if both:
            first = min(both).isoformat()
            raise HolidayFileError(f"{source}: {first} is both a holiday and a workday")
        years[year] = OfficeYear(frozenset(holidays), frozenset(workdays))
    return years


def load_holidays(path: Path | None = None) -> dict[int, OfficeYear]:
    """Read the office's holiday file; a missing default file means no office years."""
    path = path or DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HolidayFileError(f"{path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HolidayFileError(f"{path}: {exc}") from exc
    return parse_holidays(data, str(path))


def load_calendar(path: Path | None = None) -> WorkCalendar:
    """The calendar of the package plus the office's file.

    Built once per app or process (config.office) and passed down: it remembers the days it has
    looked up, and warns once per year it has no calendar for.
    """
    return WorkCalendar(load_holidays(path))
