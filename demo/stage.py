"""What every actor of the season shares: the clock, the dice, the phones, the plan of each ticket.

One `random.Random(seed)` draws every choice in a fixed order, and actions run in time order from
one heap, so the same seed gives the same season.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from config.office import OfficeConfig
from demo.clock import Clock, OfficeHours, whole_seconds
from demo.people import Reporter, Roster
from demo.phones import Webhook
from demo.witness import Answer

log = logging.getLogger("demo.season")


@dataclass
class Episode:
    """One problem a 邻长 raises: when, what they say and how, and what will become of it."""

    at: datetime
    reporter: Reporter
    category: str
    text: str
    style: str  # text, photo_first, photo_after, voice, voice_silent, photo_only
    place_text: str  # how the place was said, for a plain retry
    problem: tuple[str, str] = ("", "")  # the problem phrase and what solving it looks like
    greet: bool = False
    urgent_ask: bool = False
    place_fix: tuple[str, int] | None = None  # the group the reporter meant and corrects to
    invalid_reason: str | None = None
    withdraw_reason: str | None = None
    twin_of: Episode | None = None
    number: int | None = None


@dataclass
class Plan:
    """What the season knows and intends about one ticket, by number."""

    number: int
    category: str | None = None
    reporter: Reporter | None = None
    episode: Episode | None = None
    assignee: int | None = None
    urgent: bool = False
    ack_due: datetime | None = None
    resolve_due: datetime | None = None
    stage: str = "assigned"  # assigned, accepted, returned, resolved, closed, gone
    token: int = 0  # bumped whenever the next step is re-planned; stale steps are skipped
    resolve_at: datetime | None = None
    notes_left: int = 0
    extension: str | None = None  # none, wanted, asked, approved, rejected
    resolutions: int = 0
    returned: bool = False
    transferred: bool = False
    reopened: bool = False


class Stage:
    """The season's shared state and its scheduling: every actor plays on one stage."""

    def __init__(
        self,
        engine: Engine,
        files: OfficeConfig,
        roster: Roster,
        webhook: Webhook,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.engine = engine
        self.files = files
        self.calendar = files.calendar
        self.sla = files.sla
        self.taxonomy = files.taxonomy
        self.office = OfficeHours(self.calendar)
        self.roster = roster
        self.webhook = webhook
        self.witness = webhook.witness
        self.clock = clock
        self.rng = rng
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.plans: dict[int, Plan] = {}
        self.surprises: Counter[str] = Counter()
        self.tickets_seen = 0

    def at(self, moment: datetime, action: Callable[..., None], *args: Any) -> None:
        """Schedule `action(*args)` at `moment` (never before now)."""
        moment = whole_seconds(max(moment, self.clock.now))
        heapq.heappush(self.queue, (moment, next(self.sequence), action, args))

    def pause(self, low: float, high: float) -> None:
        """A person's pause between two messages, in minutes."""
        self.clock.now = whole_seconds(
            self.clock.now + timedelta(minutes=self.rng.uniform(low, high))
        )

    def surprise(self, what: str, answer: Answer) -> None:
        """The bot did not do what the person expected: counted and logged, the season goes on."""
        self.surprises[what] += 1
        log.debug("unexpected answer to %s: %s %s", what, answer.reply, answer.lines)

    def plan(self, number: int) -> Plan:
        """The season's record of ticket `number`, made on first sight."""
        plan = self.plans.get(number)
        if plan is None:
            plan = self.plans[number] = Plan(number)
        return plan

    def gone(self, plan: Plan) -> None:
        """The ticket left the cadres' hands (withdrawn, merged, invalid): drop planned steps."""
        plan.stage = "gone"
        plan.token += 1

    def step(self, moment: datetime, plan: Plan, action: Callable[[Plan], None]) -> None:
        """Plan the ticket's next step, replacing any step planned before."""
        plan.token += 1
        self.at(moment, self.run_step, plan, plan.token, action)

    def run_step(self, plan: Plan, token: int, action: Callable[[Plan], None]) -> None:
        """Run a planned step unless it was re-planned or the ticket went away meanwhile."""
        if token == plan.token and plan.stage != "gone":
            action(plan)
