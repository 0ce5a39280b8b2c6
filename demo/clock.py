"""The calendar of the season: when it starts, how busy each month is, office hours, the clock.

Times are aware UTC; Asia/Shanghai only to say what hour or day it is in the town.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from config.calendar import TIMEZONE, WorkCalendar

LOCAL = TIMEZONE
SEASON_START = date(2026, 1, 5)  # the Monday the town's 邻长 started using the 公众号
DEFAULT_SEED = 2026
MAX_MONTHS = 12
DAY = timedelta(days=1)
# The villages' training sessions, one a week from the season's second week (the first trains
# the cadres) into April.
ROLLOUT_FROM, ROLLOUT_DAYS = 7, 120
SPRING_FESTIVAL = (date(2026, 2, 15), date(2026, 2, 23))  # 春节 2026, when few people write

# Problems the town's 邻长 raise in each month (January from the 5th, February with 春节), tuned
# so that nine months end near the town's published 798 problems collected.
MONTHLY_PROBLEMS = (72, 62, 88, 95, 98, 98, 102, 99, 93, 86, 80, 76)

# How much of each category a month brings (spring ploughing, summer drought and floods, heat,
# the new school year, 春节 returns), on top of a base share.
CATEGORY_BASE = {
    "road": 20,
    "water": 11,
    "irrigation": 9,
    "power": 10,
    "environment": 12,
    "social_security": 8,
    "medical": 4,
    "education": 3,
    "housing": 5,
    "agriculture": 6,
    "dispute": 7,
    "safety": 3,
    "other": 2,
}
CATEGORY_SEASON: dict[int, dict[str, int]] = {
    1: {"power": 5, "social_security": 4, "water": 2},
    2: {"dispute": 5, "social_security": 3},
    3: {"agriculture": 5, "irrigation": 4, "housing": 3},
    4: {"irrigation": 9, "agriculture": 5},
    5: {"irrigation": 8, "road": 3},
    6: {"irrigation": 6, "safety": 4, "environment": 3},
    7: {"water": 6, "power": 6, "irrigation": 6, "safety": 4, "environment": 4},
    8: {"water": 6, "power": 6, "irrigation": 6, "education": 4, "environment": 3},
    9: {"education": 4, "agriculture": 4, "road": 3},
    10: {"agriculture": 5},
    11: {"social_security": 3},
    12: {"power": 4, "social_security": 4},
}

# When the season runs the jobs of bot/scheduler.job_specs (Asia/Shanghai): (minute, hours of a
# working day, hours of a day off). Their real schedules run every few minutes; what people react
# to moves in hours, so the SLA sweep runs every two hours and the others daily. Weekly jobs run
# at their own moment of the week; a job not listed here runs at the default hours.
JOB_HOURS: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {
    "sla_sweep": (5, (8, 10, 12, 14, 16, 18, 21), (9, 15, 21)),
    "rating_followup": (15, (10,), (10,)),
    "drafts": (45, (9,), (9,)),
}
DEFAULT_JOB_HOURS = (25, (9, 15), (9, 15))

# Office hours of the town's cadres (Asia/Shanghai), on working days of the official calendar.
OFFICE_HOURS = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))

# How likely a 邻长 writes at each hour of the day (Asia/Shanghai): before and after field work.
HOUR_WEIGHTS = (
    0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 1, 4, 6, 6, 5, 4, 5, 3, 3, 3, 3, 4, 6, 7, 6, 4, 2, 0.5,
)  # fmt: skip
# Categories whose work often needs materials, dry weather or the county's approval.
BIG_JOBS = frozenset({"road", "irrigation", "housing", "water", "social_security"})
# Median office hours from 签收 to 办结, per category (a working day has 6.5 office hours).
RESOLVE_OFFICE_HOURS = {
    "road": 12,
    "water": 6,
    "irrigation": 10,
    "power": 5,
    "environment": 7,
    "social_security": 14,
    "medical": 8,
    "education": 10,
    "housing": 18,
    "agriculture": 10,
    "dispute": 9,
    "safety": 5,
    "other": 4,
}


def local_midnight(day: date) -> datetime:
    """00:00 of a day in Asia/Shanghai, as aware UTC."""
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def at_local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of a day in Asia/Shanghai, as aware UTC."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=LOCAL).astimezone(UTC)


def whole_seconds(moment: datetime) -> datetime:
    """WeChat's CreateTime has whole seconds, so every simulated moment does too."""
    return moment.replace(microsecond=0)


class OfficeHours:
    """Office hours on the official calendar: when cadres read and answer their 企业微信."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def after(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of office time after `start` (aware UTC)."""
        remaining = timedelta(hours=max(0.0, hours))
        current = start.astimezone(LOCAL)
        for _ in range(400):
            day = current.date()
            if self.calendar.is_working_day(day):
                for opens, closes in OFFICE_HOURS:
                    begin = datetime.combine(day, opens, tzinfo=LOCAL)
                    end = datetime.combine(day, closes, tzinfo=LOCAL)
                    if current >= end:
                        continue
                    begin = max(begin, current)
                    if begin + remaining <= end:
                        return whole_seconds((begin + remaining).astimezone(UTC))
                    remaining -= end - begin
            current = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL)
        raise ValueError(f"no office hours in the 400 days after {start}")

    def is_open(self, moment: datetime) -> bool:
        """Whether the office is open at `moment`."""
        local = moment.astimezone(LOCAL)
        if not self.calendar.is_working_day(local.date()):
            return False
        return any(opens <= local.time() < closes for opens, closes in OFFICE_HOURS)


class Clock:
    """The simulated time the app reads as its `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
