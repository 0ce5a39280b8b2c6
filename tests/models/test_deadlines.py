"""Deadlines on the official calendar: holidays, 调休 Saturdays, clock hours, unknown years."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from config.calendar import TIMEZONE, HolidayFileError, WorkCalendar, load_calendar, load_holidays
from config.office import load_office
from config.settings import Settings
from config.sla import DEFAULT_PATH, SlaConfig, SlaConfigError, load_sla, parse_sla
from models.deadlines import deadlines_for, extend_resolve_due, reminder_at
from tests.deadline_town import add_ticket, build_ladder, cst, ticket

SLA = SlaConfig()
# The working day before the 2026 National Day holiday (1–7 October; Saturday 10 October is a
# 调休 working day), at 15:00.
BEFORE_NATIONAL_DAY = cst(2026, 9, 30, 15, 0)


def test_default_file_holds_the_documented_defaults() -> None:
    assert load_sla(DEFAULT_PATH) == SLA
    assert SLA.normal.resolve.amount == 7 and SLA.normal.resolve.working
    assert SLA.extension_max_working_days == 15


def test_normal_ticket_before_national_day_counts_the_make_up_saturday() -> None:
    calendar = WorkCalendar()
    assert calendar.source(2026) == "package"
    assert calendar.is_working_day(cst(2026, 10, 10, 12, 0).astimezone(TIMEZONE).date())

    ack, resolve = deadlines_for(False, "road", BEFORE_NATIONAL_DAY, sla=SLA, calendar=calendar)

    # 1 working day: the holiday is skipped, so 签收 is due on Thursday 8 October.
    assert ack == cst(2026, 10, 8, 15, 0)
    # 7 working days: 8, 9, Saturday 10 (调休), 12, 13, 14, 15 October, same time of day.
    assert resolve == cst(2026, 10, 15, 15, 0)
    assert resolve.tzinfo == UTC


def test_urgent_ticket_counts_clock_hours_through_the_holiday() -> None:
    ack, resolve = deadlines_for(
        True, "road", BEFORE_NATIONAL_DAY, sla=SLA, calendar=WorkCalendar()
    )
    assert ack == BEFORE_NATIONAL_DAY + timedelta(hours=2)
    assert resolve == cst(2026, 10, 1, 15, 0)  # National Day itself: urgent work does not wait


def test_assigned_on_a_day_off_counts_from_the_next_working_day() -> None:
    saturday = cst(2026, 10, 3, 10, 0)
    ack, resolve = deadlines_for(False, None, saturday, sla=SLA, calendar=WorkCalendar())
    assert ack == cst(2026, 10, 9, 0, 0)  # the whole of Thursday 8 October
    assert resolve == cst(2026, 10, 16, 0, 0)  # to the end of Thursday 15 October


def test_a_category_can_have_its_own_limits() -> None:
    sla = parse_sla({"categories": {"power": {"urgent": {"resolve": "12小时"}}}})
    moment = cst(2026, 11, 30, 10, 0)
    _, power = deadlines_for(True, "power", moment, sla=sla, calendar=WorkCalendar())
    _, road = deadlines_for(True, "road", moment, sla=sla, calendar=WorkCalendar())
    ack, _ = deadlines_for(True, "power", moment, sla=sla, calendar=WorkCalendar())
    assert power == moment + timedelta(hours=12)
    assert road == moment + timedelta(hours=24)
    assert ack == moment + timedelta(hours=2)  # the key left out keeps the urgency's limit


def test_extension_moves_resolve_by_in_working_days_up_to_the_maximum() -> None:
    due = cst(2026, 9, 30, 15, 0)
    calendar = WorkCalendar()
    # 8, 9 and the 调休 Saturday 10 October.
    assert extend_resolve_due(due, 3, sla=SLA, calendar=calendar) == cst(2026, 10, 10, 15, 0)
    assert extend_resolve_due(due, 15, sla=SLA, calendar=calendar) == cst(2026, 10, 27, 15, 0)
    with pytest.raises(ValueError, match="1 to 15"):
        extend_resolve_due(due, 16, sla=SLA, calendar=calendar)


def test_reminder_threshold_counts_working_time_for_day_limits() -> None:
    calendar = WorkCalendar()
    start = BEFORE_NATIONAL_DAY
    due = cst(2026, 10, 15, 15, 0)
    # 7 working days of 24 hours; three quarters = 126 hours of working time, not of clock time.
    remind = reminder_at(start, due, SLA.normal.resolve, 0.75, calendar)
    assert remind == cst(2026, 10, 13, 21, 0)
    assert calendar.working_time_between(start, remind) == timedelta(hours=126)
    urgent_due = start + timedelta(hours=24)
    assert reminder_at(start, urgent_due, SLA.urgent.resolve, 0.75, calendar) == start + timedelta(
        hours=18
    )


def write_2027(path: Path) -> Path:
    # A test file, not the official 2027 calendar: New Year's Day off, and Sunday 3 January
    # made a working day, to tell the office's file from the Monday-to-Friday fallback.
    path.write_text(
        '[2027]\nholidays = [2027-01-01, "2027-02-10..2027-02-12"]\nworkdays = ["2027-01-03"]\n',
        encoding="utf-8",
    )
    return path


LATE_DECEMBER = cst(2026, 12, 28, 10, 0)  # a Monday


def test_late_december_with_an_office_file_for_2027(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calendar = WorkCalendar(load_holidays(write_2027(tmp_path / "holidays.toml")))
    assert calendar.source(2027) == "office"
    with caplog.at_level(logging.WARNING, logger="config.calendar"):
        ack, resolve = deadlines_for(False, "road", LATE_DECEMBER, sla=SLA, calendar=calendar)
    assert ack == cst(2026, 12, 29, 10, 0)
    # 29, 30, 31 December, then Sunday 3 January (make-up), 4, 5, 6 January; the 1st is off.
    assert resolve == cst(2027, 1, 6, 10, 0)
    assert not caplog.records


def test_late_december_without_a_2027_calendar_falls_back_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar()
    assert calendar.source(2027) == "fallback"
    with caplog.at_level(logging.WARNING, logger="config.calendar"):
        ack, resolve = deadlines_for(False, "road", LATE_DECEMBER, sla=SLA, calendar=calendar)
        for day in range(20):  # many more deadlines in 2027: still one warning
            deadlines_for(
                False, None, LATE_DECEMBER + timedelta(days=day), sla=SLA, calendar=calendar
            )
    assert ack == cst(2026, 12, 29, 10, 0)
    # Monday to Friday: 29, 30, 31 December, Friday 1, Monday 4, 5, 6 January.
    assert resolve == cst(2027, 1, 6, 10, 0)
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_the_2027_file_changes_the_answer_where_it_differs(tmp_path: Path) -> None:
    with_file = WorkCalendar(load_holidays(write_2027(tmp_path / "h.toml")))
    fallback = WorkCalendar()
    before_spring = cst(2027, 2, 8, 9, 0)  # the test file's 10–12 February are off
    assert extend_resolve_due(before_spring, 5, sla=SLA, calendar=with_file) == cst(
        2027, 2, 18, 9, 0
    )
    assert extend_resolve_due(before_spring, 5, sla=SLA, calendar=fallback) == cst(
        2027, 2, 15, 9, 0
    )


def test_settings_point_at_the_office_files(tmp_path: Path) -> None:
    holidays = write_2027(tmp_path / "holidays.toml")
    sla_file = tmp_path / "sla.toml"
    sla_file.write_text('[limits.normal]\nresolve = "5 working days"\n', encoding="utf-8")
    settings = Settings(_env_file=None, holidays_file=holidays, sla_file=sla_file)  # type: ignore[call-arg]
    office = load_office(settings)
    assert office.calendar.source(2027) == "office"
    assert office.sla.normal.resolve.amount == 5
    _, resolve = deadlines_for(
        False, "road", LATE_DECEMBER, sla=office.sla, calendar=office.calendar
    )
    # 29, 30, 31 December, Sunday 3 and Monday 4 January.
    assert resolve == cst(2027, 1, 4, 10, 0)


def test_default_holiday_file_lists_no_invented_year() -> None:
    assert load_holidays() == {}
    assert load_calendar().source(2026) == "package"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[2027]\nholidays = ["2026-12-31"]\n', "not in 2027"),
        ('[2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-01"]\n', "both"),
        ('[2027]\nholiday = ["2027-01-01"]\n', "only `holidays` and `workdays`"),
        ('[next]\nholidays = ["2027-01-01"]\n', "not a year"),
        ('[2027]\nholidays = ["2027-02-12..2027-02-10"]\n', "ends before"),
    ],
)
def test_holiday_file_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidayFileError, match=message):
        load_holidays(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limits": {"normal": {"resolve": "seven days"}}}, "not a duration"),
        ({"limits": {"urgent": {"ack": "30 hours"}}}, "longer than resolve"),
        ({"limts": {}}, "unknown sections"),
        ({"reminder": {"threshold": 1.5}}, "between 0 and 1"),
        ({"schedule": {"sla_sweep_every": "7 minutes"}}, "divide an hour"),
        ({"followup": {"ask_again_after": "8 days"}}, "before close_after"),
        ({"schedule": {"weekly_digest": "monday 8:30"}}, "weekly time"),
    ],
)
def test_sla_file_mistakes_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(SlaConfigError, match=message):
        parse_sla(data)


def test_set_deadlines_stores_aware_utc(engine: Engine) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, BEFORE_NATIONAL_DAY, calendar=WorkCalendar())
    stored = ticket(engine, ticket_id)
    assert stored.ack_due_at == cst(2026, 10, 8, 15, 0)
    assert stored.resolve_due_at == cst(2026, 10, 15, 15, 0)
    assert stored.resolve_due_at.tzinfo == UTC
